/** What the page shows: a level, a key, a range and a granularity, all kept in the URL's hash. */

export const LEVELS = ['PROJECT', 'EXPERIMENT', 'MACHINE', 'USER', 'INSTANCE'] as const;
export type Level = (typeof LEVELS)[number];
export const GRANULARITIES = ['HOUR', 'DAY', 'MONTH'] as const;
export type Granularity = (typeof GRANULARITIES)[number];

export const LEVEL_LABELS: Record<Level, string> = {
  PROJECT: 'Project',
  EXPERIMENT: 'Experiment',
  MACHINE: 'Machine type',
  USER: 'User',
  INSTANCE: 'Instance',
};

export const RANGE_PRESETS = {
  '7d': { days: 7, label: 'Last 7 days' },
  '30d': { days: 30, label: 'Last 30 days' },
  '90d': { days: 90, label: 'Last 90 days' },
  '365d': { days: 365, label: 'Last 365 days' },
  '730d': { days: 730, label: 'Last 2 years' },
} as const;
export type RangePreset = keyof typeof RANGE_PRESETS | 'custom';

export interface Selection {
  level: Level;
  key: string;
  range: RangePreset;
  /** YYYY-MM-DD, used when range is custom; `to` is inclusive as a person reads a date picker. */
  from: string;
  to: string;
  /** 'auto': as the range suggests. */
  granularity: Granularity | 'auto';
}

export interface Span {
  from: string;
  to: string;
  days: number;
}

const HOUR_MS = 3_600_000;
const DAY_MS = 86_400_000;
/** The API's longest HOUR series (contract section 4). */
export const MAX_HOUR_DAYS = 366;

export const DEFAULT_SELECTION: Selection = {
  level: 'PROJECT',
  key: '',
  range: '30d',
  from: '',
  to: '',
  granularity: 'auto',
};

/**
 * The range in ISO instants. A preset ends at the current whole hour (the newest one ingested) and
 * starts at midnight UTC, so days are whole but the last; a custom range is whole UTC days.
 */
export function spanOf(selection: Selection, now: number): Span {
  if (selection.range === 'custom') {
    const from = Date.parse(`${selection.from}T00:00:00Z`);
    const to = Date.parse(`${selection.to}T00:00:00Z`) + DAY_MS;
    return { from: iso(from), to: iso(to), days: (to - from) / DAY_MS };
  }
  const to = Math.floor(now / HOUR_MS) * HOUR_MS;
  const days = RANGE_PRESETS[selection.range].days;
  const from = Math.ceil(to / DAY_MS) * DAY_MS - days * DAY_MS;
  return { from: iso(from), to: iso(to), days };
}

/** Hours for a week or less, days up to a year, months beyond. */
export function granularityOf(selection: Selection, span: Span): Granularity {
  if (selection.granularity === 'HOUR' && span.days > MAX_HOUR_DAYS) return 'DAY';
  if (selection.granularity !== 'auto') return selection.granularity;
  if (span.days <= 7) return 'HOUR';
  if (span.days <= MAX_HOUR_DAYS) return 'DAY';
  return 'MONTH';
}

/** The span the hour-of-day heatmap draws: the range's last 366 days at most. */
export function heatmapSpan(span: Span): Span {
  if (span.days <= MAX_HOUR_DAYS) return span;
  const to = Date.parse(span.to);
  return { from: iso(to - MAX_HOUR_DAYS * DAY_MS), to: span.to, days: MAX_HOUR_DAYS };
}

/** A custom range that the API would refuse, said in words; undefined when it is fine. */
export function rangeProblem(selection: Selection): string | undefined {
  if (selection.range !== 'custom') return undefined;
  if (!/^\d{4}-\d{2}-\d{2}$/.test(selection.from) || !/^\d{4}-\d{2}-\d{2}$/.test(selection.to)) {
    return 'Choose both a first and a last day.';
  }
  if (selection.from > selection.to) return 'The first day is after the last day.';
  return undefined;
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}

export function readSelection(hash: string): Selection {
  const params = new URLSearchParams(hash.replace(/^#/, ''));
  const pick = <T extends string>(name: string, allowed: readonly T[], fallback: T): T => {
    const value = params.get(name) as T | null;
    return value !== null && allowed.includes(value) ? value : fallback;
  };
  const presets = [...(Object.keys(RANGE_PRESETS) as RangePreset[]), 'custom' as const];
  return {
    level: pick('level', LEVELS, DEFAULT_SELECTION.level),
    key: params.get('key') ?? '',
    range: pick('range', presets, DEFAULT_SELECTION.range),
    from: params.get('from') ?? '',
    to: params.get('to') ?? '',
    granularity: pick('granularity', [...GRANULARITIES, 'auto' as const], 'auto'),
  };
}

export function writeSelection(selection: Selection): string {
  const params = new URLSearchParams({ level: selection.level, key: selection.key, range: selection.range });
  if (selection.range === 'custom') {
    params.set('from', selection.from);
    params.set('to', selection.to);
  }
  if (selection.granularity !== 'auto') params.set('granularity', selection.granularity);
  return `#${params.toString()}`;
}
