import { machineKey } from '../../domain/machine-key';
import { countDayHours, HOURS_PER_DAY, summariseDay } from '../../domain/summaries';
import { DAY_MS, periodStart, utcDate } from '../../domain/time';
import type { DailySummaryStore } from '../../store/summaries';
import type { Store } from '../../store/store';

export interface DaySummarised {
  date: string;
  users: number;
  complete: boolean;
}

/**
 * Summarises `date` (`YYYY-MM-DD`) for every user the store holds a day entry of, from the USER
 * level's day totals (the sum of the day's ok hours) and the ledger, and stores the summaries in
 * place of the day's earlier ones. The same store gives the same summaries again.
 */
export async function summariseDate(
  store: Pick<Store, 'listKeys' | 'readDays' | 'readLedger'>,
  summaries: Pick<DailySummaryStore, 'replaceDay'>,
  date: string,
): Promise<DaySummarised> {
  const start = periodStart(date);
  const [users, machines, ledger] = await Promise.all([
    store.listKeys('USER'),
    store.listKeys('MACHINE'),
    store.readLedger(start, start + DAY_MS),
  ]);
  const entries = users.length === 0 ? [] : await store.readDays('USER', date, users);
  // The API names a machine type as the MACHINE level keys it; the first sorted name of a key.
  const machineNames = new Map<string, string>();
  for (const name of machines)
    if (!machineNames.has(machineKey(name))) machineNames.set(machineKey(name), name);
  const hours = countDayHours(date, ledger);
  const records = entries.flatMap((entry) =>
    entry === null ? [] : [summariseDay(entry, hours, machineNames)],
  );
  const complete = hours.okHours === HOURS_PER_DAY;
  await summaries.replaceDay(date, complete, records);
  return { date, users: records.length, complete };
}

/**
 * The daily job's days: yesterday, and every day of the `lookbackDays` before it that was
 * incomplete when last summarised (its failed hours may have been repaired since), oldest first.
 */
export async function daysToSummarise(
  summaries: Pick<DailySummaryStore, 'incompleteDays'>,
  now: number,
  lookbackDays: number,
): Promise<string[]> {
  const yesterday = utcDate(now - DAY_MS);
  const from = utcDate(periodStart(yesterday) - lookbackDays * DAY_MS);
  return [...(await summaries.incompleteDays(from, yesterday)), yesterday];
}
