import { HOUR_MS } from './time';

/** Hour starts already formatted; bounded, and dropped whole when full (a year of hours is 8,784). */
const HOUR_ISO = new Map<number, string>();
const HOUR_ISO_LIMIT = 100_000;

/**
 * `new Date(ms).toISOString()`, remembered for whole hours: a year of hourly buckets formats
 * 17,520 bucket edges per answer, and formatting dominates serialising them.
 */
export function isoOf(ms: number): string {
  if (ms % HOUR_MS !== 0) return new Date(ms).toISOString();
  let iso = HOUR_ISO.get(ms);
  if (iso === undefined) {
    if (HOUR_ISO.size >= HOUR_ISO_LIMIT) HOUR_ISO.clear();
    iso = new Date(ms).toISOString();
    HOUR_ISO.set(ms, iso);
  }
  return iso;
}
