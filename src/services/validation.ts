import { BadInputError } from '../errors';
import { DAY_MS, type Granularity } from '../domain/time';
import type { SeriesRange } from './usage-series';

/**
 * What the DateTime scalar makes of input it cannot read. The scalar cannot know which argument
 * it is parsing, so it hands this on and the resolver's validation names the argument.
 */
export class MalformedDateTime extends Date {
  constructor(readonly input: string) {
    super(Number.NaN);
  }
}

/** A usageSeriesMany call reads every key's files; this bounds one request's work. */
export const MAX_KEYS_PER_QUERY = 200;

export const MAX_METRICS_DAYS = 3660;
export const DEFAULT_METRICS_DAYS = 365;

const HOUR_SERIES_MAX_DAYS = 366;
const MAX_YEARS: Record<Exclude<Granularity, 'HOUR'>, number> = { DAY: 5, MONTH: 50, YEAR: 50 };

export function requireDateTime(value: Date, argument: string): number {
  const ms = value.getTime();
  if (Number.isNaN(ms)) {
    const got = value instanceof MalformedDateTime ? `, got ${value.input}` : '';
    throw new BadInputError(
      `Argument "${argument}": expected an ISO-8601 date-time such as 2025-09-21T00:00:00Z${got}`,
      argument,
    );
  }
  return ms;
}

/** Contract section 4: `from` before `to`; HOUR spans at most 366 days, DAY 5 years, MONTH and YEAR 50. */
export function validateRange(args: { from: Date; to: Date; granularity: Granularity }): SeriesRange {
  const from = requireDateTime(args.from, 'from');
  const to = requireDateTime(args.to, 'to');
  if (from >= to) throw new BadInputError('Argument "from" must be before "to"', 'from');
  const { granularity } = args;
  if (granularity === 'HOUR') {
    if (to - from > HOUR_SERIES_MAX_DAYS * DAY_MS) {
      throw new BadInputError(
        `Argument "to" is more than ${HOUR_SERIES_MAX_DAYS} days after "from": the longest HOUR series`,
        'to',
      );
    }
  } else if (to > addUtcYears(from, MAX_YEARS[granularity])) {
    throw new BadInputError(
      `Argument "to" is more than ${MAX_YEARS[granularity]} years after "from": the longest ${granularity} series`,
      'to',
    );
  }
  return { granularity, from, to };
}

export function validateKeys(keys: readonly string[]): readonly string[] {
  if (keys.length > MAX_KEYS_PER_QUERY) {
    throw new BadInputError(
      `Argument "keys" holds ${keys.length} keys; one query may ask for at most ${MAX_KEYS_PER_QUERY}`,
      'keys',
    );
  }
  return keys;
}

/** An explicit null means the default, as an omitted argument does. */
export function validateDays(days: number | null | undefined): number {
  const value = days ?? DEFAULT_METRICS_DAYS;
  if (!Number.isInteger(value) || value < 1 || value > MAX_METRICS_DAYS) {
    throw new BadInputError(`Argument "days" must be from 1 to ${MAX_METRICS_DAYS}, got ${value}`, 'days');
  }
  return value;
}

function addUtcYears(ms: number, years: number): number {
  const d = new Date(ms);
  d.setUTCFullYear(d.getUTCFullYear() + years);
  return d.getTime();
}
