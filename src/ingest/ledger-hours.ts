import { DAY_MS, HOUR_MS } from '../domain/time';
import type { Store } from '../store/store';

/** How far back scheduled runs retry failed hours (the contract's reconcile window). */
export const RETRY_LOOKBACK_DAYS = 7;

/** Groups hours into contiguous [from, to) ranges. */
export function contiguousRanges(hours: Iterable<number>): Array<[number, number]> {
  const sorted = [...new Set(hours)].sort((a, b) => a - b);
  const ranges: Array<[number, number]> = [];
  for (const hour of sorted) {
    const last = ranges.at(-1);
    if (last && last[1] === hour) last[1] = hour + HOUR_MS;
    else ranges.push([hour, hour + HOUR_MS]);
  }
  return ranges;
}

/** The hours in [endHour − lookbackDays, before) the ledger holds as failed, ascending. */
export async function failedHoursBefore(
  store: Store,
  endHour: number,
  before: number,
  lookbackDays = RETRY_LOOKBACK_DAYS,
): Promise<number[]> {
  const from = endHour - lookbackDays * DAY_MS;
  if (from >= before) return [];
  const ledger = await store.readLedger(from, before);
  return [...ledger]
    .filter(([, record]) => record.status === 'failed')
    .map(([hour]) => hour)
    .sort((a, b) => a - b);
}
