import DataLoader from 'dataloader';
import type { Level } from '../domain/levels';
import { nextBucketStart, periodStart } from '../domain/time';
import type { DayEntry, LedgerHour, MonthRollup, YearRollup } from '../domain/usage';
import { DataUnavailableError } from '../errors';
import { PartialReadError, UnreadableDataError, type Store } from '../store/store';
import { abortable } from './abortable';

/** The keys of one level: sorted for listing, and as a set for "is this key known?". */
export interface KeyIndex {
  sorted: readonly string[];
  known: ReadonlySet<string>;
}

/** One month of the ledger, with its counts so a whole month's status needs no walk over its hours. */
export interface LedgerMonth {
  /** Keyed by hour start (epoch ms). */
  hours: ReadonlyMap<number, LedgerHour>;
  okHours: number;
  failedHours: number;
}

/** One month of the ledger's statuses alone: what a series' buckets count. */
export interface LedgerStatuses {
  /** The status of the hour starting at `hour` (epoch ms); undefined when it was never ingested. */
  statusOf(hour: number): LedgerHour['status'] | undefined;
  okHours: number;
  failedHours: number;
}

/**
 * The read side's view of the store for one request. Every read goes through a DataLoader, so
 * concurrent resolvers share reads: one store call per (level, period) for usage, one per month
 * for the ledger, one per level for keys, however many series ask.
 */
export interface UsageReader {
  keys(level: Level): Promise<KeyIndex>;
  /** With `byMachine` false, the entry may hold the `all` figures alone (see `Store.readDays`). */
  day(level: Level, date: string, key: string, byMachine?: boolean): Promise<DayEntry | null>;
  month(level: Level, month: string, key: string): Promise<MonthRollup | null>;
  year(level: Level, year: string, key: string): Promise<YearRollup | null>;
  ledgerMonth(month: string): Promise<LedgerMonth>;
  ledgerStatuses(month: string): Promise<LedgerStatuses>;
}

/**
 * Builds fresh loaders: call once per request, never share between requests (they cache). Once
 * `signal` aborts (the request's deadline), every read rejects with its reason.
 */
export function createUsageReader(store: Store, signal?: AbortSignal): UsageReader {
  const guard = abortable(signal);
  const days = periodLoader((level, date, keys) => guard(() => store.readDays(level, date, keys)));
  const dayAlls = periodLoader((level, date, keys) =>
    guard(() => store.readDays(level, date, keys, { byMachine: false })),
  );
  const months = periodLoader((level, month, keys) => guard(() => store.readMonths(level, month, keys)));
  const years = periodLoader((level, year, keys) => guard(() => store.readYears(level, year, keys)));
  const keys = new DataLoader<Level, KeyIndex>((levels) =>
    Promise.all(levels.map((level) => guard(() => store.listKeys(level)).then(indexKeys))),
  );
  const ledger = new DataLoader<string, LedgerMonth>((monthsToRead) =>
    Promise.all(
      monthsToRead.map((month) =>
        guard(() => store.readLedger(...monthSpan(month))).then(summariseLedgerMonth),
      ),
    ),
  );
  // A store that can read the statuses alone spares parsing a year of records; else the records.
  const readStatuses = store.readLedgerStatuses?.bind(store);
  const statuses = new DataLoader<string, LedgerStatuses>((monthsToRead) =>
    Promise.all(
      monthsToRead.map(async (month) => {
        if (readStatuses === undefined) {
          const { hours, okHours, failedHours } = await ledger.load(month);
          return { statusOf: (hour: number) => hours.get(hour)?.status, okHours, failedHours };
        }
        return countStatuses(await guard(() => readStatuses(...monthSpan(month))));
      }),
    ),
  );
  return {
    keys: (level) => keys.load(level),
    day: (level, date, key, byMachine = true) =>
      (byMachine ? days : dayAlls).load({ level, period: date, key }),
    month: (level, month, key) => months.load({ level, period: month, key }),
    year: (level, year, key) => years.load({ level, period: year, key }),
    ledgerMonth: (month) => ledger.load(month),
    ledgerStatuses: (month) => statuses.load(month),
  };
}

const monthSpan = (month: string): [number, number] => [
  periodStart(month),
  nextBucketStart('MONTH', periodStart(month)),
];

function countStatuses(statuses: ReadonlyMap<number, LedgerHour['status']>): LedgerStatuses {
  let okHours = 0;
  for (const status of statuses.values()) if (status === 'ok') okHours++;
  return { statusOf: (hour) => statuses.get(hour), okHours, failedHours: statuses.size - okHours };
}

function indexKeys(keys: string[]): KeyIndex {
  // Sorted here as well as in the store so the API's order (UTF-16 code units) never depends on a
  // backend's collation.
  const sorted = [...keys].sort();
  return { sorted, known: new Set(sorted) };
}

function summariseLedgerMonth(hours: Map<number, LedgerHour>): LedgerMonth {
  let okHours = 0;
  let failedHours = 0;
  for (const record of hours.values()) {
    if (record.status === 'ok') okHours++;
    else failedHours++;
  }
  return { hours, okHours, failedHours };
}

interface PeriodKey {
  level: Level;
  period: string;
  key: string;
}

type BatchRead<T> = (level: Level, period: string, keys: string[]) => Promise<Array<T | null>>;

/** A loader whose batch makes one store call per (level, period), for all the keys asked of it. */
function periodLoader<T>(read: BatchRead<T>): DataLoader<PeriodKey, T | null, string> {
  return new DataLoader<PeriodKey, T | null, string>(
    async (requests) => {
      const groups = new Map<string, { level: Level; period: string; keys: string[]; positions: number[] }>();
      requests.forEach(({ level, period, key }, position) => {
        const groupKey = `${level}/${period}`;
        let group = groups.get(groupKey);
        if (!group) groups.set(groupKey, (group = { level, period, keys: [], positions: [] }));
        group.keys.push(key);
        group.positions.push(position);
      });
      const results = new Array<T | null | Error>(requests.length);
      await Promise.all(
        [...groups.values()].map(async ({ level, period, keys, positions }) => {
          // A failed read fails only the keys it was for; other groups still answer. A damaged
          // record fails only its own key.
          const rows = await read(level, period, keys).catch((error: unknown) =>
            error instanceof PartialReadError
              ? (error.results as Array<T | null | Error>).map((row) =>
                  row instanceof UnreadableDataError ? new DataUnavailableError(row) : row,
                )
              : keys.map(() => (error instanceof Error ? error : new Error(String(error)))),
          );
          positions.forEach((position, i) => (results[position] = rows[i] ?? null));
        }),
      );
      return results;
    },
    { cacheKeyFn: ({ level, period, key }) => `${level}\u0000${period}\u0000${key}` },
  );
}
