/** UTC time arithmetic. Every instant is epoch milliseconds; an hour is named by its start. */

export const HOUR_MS = 3_600_000;
export const DAY_MS = 24 * HOUR_MS;

export const GRANULARITIES = ['HOUR', 'DAY', 'MONTH', 'YEAR'] as const;
export type Granularity = (typeof GRANULARITIES)[number];

export function floorHour(ms: number): number {
  return Math.floor(ms / HOUR_MS) * HOUR_MS;
}

export function ceilHour(ms: number): number {
  return Math.ceil(ms / HOUR_MS) * HOUR_MS;
}

export function isWholeHour(ms: number): boolean {
  return ms % HOUR_MS === 0;
}

/** Starts of the hours that overlap [from, to). */
export function hoursOverlapping(from: number, to: number): number[] {
  const hours: number[] = [];
  for (let h = floorHour(from); h < to; h += HOUR_MS) hours.push(h);
  return hours;
}

const pad2 = (n: number): string => String(n).padStart(2, '0');

/** `YYYY-MM-DD` of the UTC day holding `ms`. */
export function utcDate(ms: number): string {
  const d = new Date(ms);
  return `${d.getUTCFullYear()}-${pad2(d.getUTCMonth() + 1)}-${pad2(d.getUTCDate())}`;
}

/** `YYYY-MM` of the UTC month holding `ms`. */
export function utcMonth(ms: number): string {
  const d = new Date(ms);
  return `${d.getUTCFullYear()}-${pad2(d.getUTCMonth() + 1)}`;
}

/** `YYYY` of the UTC year holding `ms`. */
export function utcYear(ms: number): string {
  return String(new Date(ms).getUTCFullYear());
}

/** The contract's day-entry `date` field: `DD_MM_YYYY`. */
export function seedDate(isoDate: string): string {
  const [y, m, d] = isoDate.split('-');
  return `${d}_${m}_${y}`;
}

/** The hour key inside a day entry: `HH:00`. */
export function hourLabel(ms: number): string {
  return `${pad2(new Date(ms).getUTCHours())}:00`;
}

/** Epoch ms of `YYYY-MM-DD`, `YYYY-MM` or `YYYY` at 00:00 UTC. */
export function periodStart(period: string): number {
  const [y, m = '01', d = '01'] = period.split('-');
  return Date.UTC(Number(y), Number(m) - 1, Number(d));
}

/** Epoch ms of the start of the hour named `HH:00` on day `YYYY-MM-DD`. */
export function hourOfDay(isoDate: string, label: string): number {
  return periodStart(isoDate) + Number(label.slice(0, 2)) * HOUR_MS;
}

export function bucketStart(granularity: Granularity, ms: number): number {
  // No Date for an hour: hourly series ask this for every one of thousands of buckets.
  if (granularity === 'HOUR') return floorHour(ms);
  const d = new Date(ms);
  switch (granularity) {
    case 'DAY':
      return Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate());
    case 'MONTH':
      return Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1);
    case 'YEAR':
      return Date.UTC(d.getUTCFullYear(), 0, 1);
  }
}

/** Start of the bucket after the one starting at `start`. */
export function nextBucketStart(granularity: Granularity, start: number): number {
  if (granularity === 'HOUR') return start + HOUR_MS;
  const d = new Date(start);
  switch (granularity) {
    case 'DAY':
      return start + DAY_MS;
    case 'MONTH':
      return Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1);
    case 'YEAR':
      return Date.UTC(d.getUTCFullYear() + 1, 0, 1);
  }
}

/** The UTC buckets of a granularity that overlap [from, to), as [start, end) pairs. */
export function bucketsOverlapping(
  granularity: Granularity,
  from: number,
  to: number,
): Array<[number, number]> {
  const buckets: Array<[number, number]> = [];
  for (let start = bucketStart(granularity, from); start < to;) {
    const end = nextBucketStart(granularity, start);
    buckets.push([start, end]);
    start = end;
  }
  return buckets;
}

/** Days (`YYYY-MM-DD`) that overlap [from, to). */
export function daysOverlapping(from: number, to: number): string[] {
  return bucketsOverlapping('DAY', from, to).map(([start]) => utcDate(start));
}

/** Months (`YYYY-MM`) that overlap [from, to). */
export function monthsOverlapping(from: number, to: number): string[] {
  return bucketsOverlapping('MONTH', from, to).map(([start]) => utcMonth(start));
}

/** A real UTC date `YYYY-MM-DD`. */
export function isDate(value: string): boolean {
  return /^\d{4}-\d{2}-\d{2}$/.test(value) && utcDate(periodStart(value)) === value;
}
