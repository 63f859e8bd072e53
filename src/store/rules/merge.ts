import { addBreakdownInto, zeroBreakdown, type Breakdown } from '../../domain/figures';
import type { Level } from '../../domain/levels';
import { FAILED, type DayEntry, type MonthRollup, type YearRollup } from '../../domain/usage';

/** What a batch does to the hours of one UTC date, by hour label (`HH:00`). */
export interface DayChange {
  /** Ok hours: each key's bucket becomes the batch's, or goes when the batch has none for the key. */
  replace: readonly string[];
  /** Failed hours the ledger does not hold as ok. */
  markFailed: readonly string[];
}

/** Sorting before summing keeps float totals identical however the parts arrived. */
function sortedByName<T>(record: Record<string, T>): Array<[string, T]> {
  return Object.entries(record).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}

function sumBreakdowns(parts: Iterable<Breakdown>): Breakdown {
  const total = zeroBreakdown();
  for (const part of parts) addBreakdownInto(total, part);
  return total;
}

/** Day totals: every hour that did not fail. */
export function sumHours(hours: DayEntry['hours']): Breakdown {
  return sumBreakdowns(sortedByName(hours).flatMap(([, hour]) => (hour === FAILED ? [] : [hour])));
}

/**
 * The day entry of one key after a batch: `incoming` holds the key's ok-hour buckets from the batch
 * (null when it had no usage in them). Null when no hour is left, so the file can go.
 */
export function mergeDay(
  identity: { level: Level; key: string; date: string },
  existing: DayEntry | null,
  incoming: DayEntry | null,
  change: DayChange,
): DayEntry | null {
  const hours = new Map(Object.entries(existing?.hours ?? {}));
  for (const label of change.replace) {
    const bucket = incoming?.hours[label];
    if (bucket === undefined) hours.delete(label);
    else hours.set(label, bucket);
  }
  for (const label of change.markFailed) hours.set(label, FAILED);
  if (hours.size === 0) return null;
  const sorted = Object.fromEntries([...hours].sort(([a], [b]) => (a < b ? -1 : 1)));
  return { ...identity, hours: sorted, totals: sumHours(sorted) };
}

/** `record` with `updates` applied: a null update removes the name. */
export function withUpdates<T>(
  record: Record<string, T>,
  updates: ReadonlyMap<string, T | null>,
): Record<string, T> {
  const merged = new Map(Object.entries(record));
  for (const [name, value] of updates) {
    if (value === null) merged.delete(name);
    else merged.set(name, value);
  }
  return Object.fromEntries(merged);
}

/** A month roll-up from its days' totals; null when the month has no day left. */
export function monthRollup(
  level: Level,
  key: string,
  month: string,
  dayTotals: Record<string, Breakdown>,
): MonthRollup | null {
  const days = sortedByName(dayTotals);
  if (days.length === 0) return null;
  return {
    level,
    key,
    month,
    days: Object.fromEntries(days),
    totals: sumBreakdowns(days.map(([, totals]) => totals)),
  };
}

/** A year roll-up from its months' totals; null when the year has no month left. */
export function yearRollup(
  level: Level,
  key: string,
  year: string,
  monthTotals: Record<string, Breakdown>,
): YearRollup | null {
  const months = sortedByName(monthTotals);
  if (months.length === 0) return null;
  return {
    level,
    key,
    year,
    months: Object.fromEntries(months),
    totals: sumBreakdowns(months.map(([, totals]) => totals)),
  };
}
