/** Figures as the page shows them: four significant digits, grouped, in the reader's UI language. */
const FIGURE = new Intl.NumberFormat('en', { maximumSignificantDigits: 4 });
const PERCENT = new Intl.NumberFormat('en', { style: 'percent', maximumFractionDigits: 1 });

export function formatFigure(value: number): string {
  return FIGURE.format(value);
}

export function formatPercent(share: number): string {
  return PERCENT.format(share);
}

/** An instant in UTC, to the minute: `2026-11-27 14:00 UTC`. */
export function formatInstant(iso: string): string {
  return `${iso.slice(0, 10)} ${iso.slice(11, 16)} UTC`;
}

/** A bucket's start as its granularity names it. */
export function formatBucket(iso: string, granularity: string): string {
  if (granularity === 'MONTH') return iso.slice(0, 7);
  if (granularity === 'DAY') return iso.slice(0, 10);
  return formatInstant(iso);
}
