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
 * The daily job's days, oldest first: yesterday, and every day of the `lookbackDays` before it
 * summarised before. Those are summarised again, complete or not when last summarised: the
 * reconcile or an operator's re-ingest may have changed any of their hours since, and summarising
 * a day again is idempotent and costs a few reads of day totals, about what telling which days
 * changed would.
 */
export async function daysToSummarise(
  summaries: Pick<DailySummaryStore, 'isSummarised'>,
  now: number,
  lookbackDays: number,
): Promise<string[]> {
  const yesterday = periodStart(utcDate(now - DAY_MS));
  const earlier = Array.from({ length: lookbackDays }, (_, i) =>
    utcDate(yesterday - (lookbackDays - i) * DAY_MS),
  );
  const summarised = await Promise.all(earlier.map((date) => summaries.isSummarised(date)));
  return [...earlier.filter((_, i) => summarised[i]), utcDate(yesterday)];
}
