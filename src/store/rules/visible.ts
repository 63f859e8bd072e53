import { HOUR_MS, periodStart } from '../../domain/time';
import { FAILED, type DayEntry, type LedgerHour } from '../../domain/usage';
import { sumHours } from './merge';

/**
 * A day entry as a reader may see it: figures only for hours the ledger holds ok. An hour the
 * ledger holds failed reads `"failed"` (a damaged entry moved aside leaves other keys' figures in
 * place, so a failed retry cannot lose them); an hour it has no record of is not there (a writer
 * stopped between writing the day and recording the hour). Totals count what is left; null when
 * no hour is. The entry itself when nothing changes.
 */
export function visibleDay(
  entry: DayEntry,
  recordOf: (hour: number) => LedgerHour | undefined,
): DayEntry | null {
  const dayStart = periodStart(entry.date);
  let hours: DayEntry['hours'] | undefined;
  for (const [label, bucket] of Object.entries(entry.hours)) {
    const record = recordOf(dayStart + Number(label.slice(0, 2)) * HOUR_MS);
    const seen = record === undefined ? undefined : record.status === 'failed' ? FAILED : bucket;
    if (seen === bucket) {
      if (hours !== undefined) hours[label] = bucket;
      continue;
    }
    hours ??= Object.fromEntries(Object.entries(entry.hours).filter(([other]) => other < label));
    if (seen !== undefined) hours[label] = seen;
  }
  if (hours === undefined) return entry;
  if (Object.keys(hours).length === 0) return null;
  return { ...entry, hours, totals: sumHours(hours) };
}

/**
 * `entry` with totals that count only the hours the ledger holds ok (see `visibleDay`): an hour
 * failed since a damaged entry was moved aside keeps its figures, for a failed retry not to lose
 * them, but no longer counts. The entry itself when its totals stay.
 */
export function withVisibleTotals(
  entry: DayEntry,
  recordOf: (hour: number) => LedgerHour | undefined,
): DayEntry {
  const seen = visibleDay(entry, recordOf);
  if (seen === entry || seen === null) return entry;
  return JSON.stringify(seen.totals) === JSON.stringify(entry.totals)
    ? entry
    : { ...entry, totals: seen.totals };
}
