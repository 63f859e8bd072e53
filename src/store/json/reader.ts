import { existsSync } from 'node:fs';
import type { Breakdown } from '../../domain/figures';
import type { Level } from '../../domain/levels';
import { monthsOverlapping } from '../../domain/time';
import type { DayEntry, LedgerHour, MonthRollup, YearRollup } from '../../domain/usage';
import { listNames, mapLimit } from '../../fs/files';
import type { Logger } from '../../log';
import { monthRollup, yearRollup } from '../rules/merge';
import { visibleDay } from '../rules/visible';
import { PartialReadError, UnreadableDataError } from '../store';
import { parseInstanceProjects, parseJournal, type MonthRef } from './codec';
import { parseDayFile, parseMonthFile, parseYearFile } from './file-parse';
import type { DamageReporter } from './damage';
import { CorruptFileError } from './errors';
import {
  DAY_FILE,
  JsonLayout,
  MONTH_FILE,
  checkedDate,
  checkedMonth,
  checkedYear,
  decodeKey,
  isStorableKey,
} from './layout';
import { parseLedgerFile } from './ledger-file';
import { usageFileOf, type UsageFile } from './quarantine';
import { readStoreText } from './read';
import { ReadCache } from './read-cache';

/** Files read at once: enough to keep the disk busy, few enough for the fd limit. */
const CONCURRENCY = 32;
/**
 * Characters of file text kept parsed (see ReadCache); parsed, a file takes a few times its text.
 * A year of hours of one project is ~22 M characters here, of one instance ~6 M.
 */
const READ_CACHE_CHARS = 64 * 1024 * 1024;

type RecordOf = (hour: number) => LedgerHour | undefined;

const monthId = ({ level, key, month }: MonthRef): string => JSON.stringify([level, key, month]);

/** Every month is behind its days. */
const ALL = 'all';
/** The months whose roll-ups may be behind their days, by id. */
type Unsettled = ReadonlyMap<string, MonthRef> | typeof ALL;

/**
 * The read side of a JSON store. It only reads: what it shows is the stored files seen through the
 * ledger (see `visibleDay`), and the months a writer's journal names (a writer part-way, or killed
 * part-way) rolled up from those days rather than read from roll-ups that may lag them. A damaged
 * file fails only its key's read and goes to the DamageReporter.
 */
export class JsonReader {
  private readonly cache = new ReadCache(READ_CACHE_CHARS);

  constructor(
    private readonly layout: JsonLayout,
    private readonly damage: DamageReporter,
    private readonly log: Logger,
  ) {}

  async readLedger(fromHour: number, toHour: number): Promise<Map<number, LedgerHour>> {
    const found = new Map<number, LedgerHour>();
    for (const month of monthsOverlapping(fromHour, toHour)) {
      for (const [hour, record] of await this.ledgerMonth(month)) {
        if (hour >= fromHour && hour < toHour) found.set(hour, record);
      }
    }
    return found;
  }

  /** Shared with other readers through the cache: callers only read it. */
  private async ledgerMonth(month: string): Promise<ReadonlyMap<number, LedgerHour>> {
    const path = this.layout.ledgerFile(checkedMonth(month));
    return (await this.cachedRead(path, (text) => parseLedgerFile(text, path))) ?? new Map();
  }

  /** The ledger month's file is there (damaged or not). */
  private hasLedger(month: string): boolean {
    return existsSync(this.layout.ledgerFile(month));
  }

  /** The ledger of a month as a lookup; null when it cannot be read (days are shown as stored). */
  private async recordsOf(month: string): Promise<RecordOf | null> {
    try {
      const ledger = await this.ledgerMonth(month);
      return (hour) => ledger.get(hour);
    } catch (err) {
      if (!(err instanceof CorruptFileError)) throw err;
      return null;
    }
  }

  async readDays(level: Level, date: string, keys: readonly string[]): Promise<Array<DayEntry | null>> {
    checkedDate(date);
    const recordOf = await this.recordsOf(date.slice(0, 7));
    return this.readEach(keys, (key) => this.visibleDayOf(level, key, date, recordOf));
  }

  private async visibleDayOf(
    level: Level,
    key: string,
    date: string,
    recordOf: RecordOf | null,
  ): Promise<DayEntry | null> {
    const path = this.layout.dayFile(level, key, date);
    const entry = await this.cachedRead(path, (text) => parseDayFile(text, path, level, key, date));
    return entry === null || recordOf === null ? entry : visibleDay(entry, recordOf);
  }

  async readMonths(level: Level, month: string, keys: readonly string[]): Promise<Array<MonthRollup | null>> {
    checkedMonth(month);
    const unsettled = await this.unsettledMonths();
    return this.readEach(keys, (key) => this.monthOf({ level, key, month }, unsettled));
  }

  async readYears(level: Level, year: string, keys: readonly string[]): Promise<Array<YearRollup | null>> {
    checkedYear(year);
    const unsettled = await this.unsettledMonths();
    const kept = new Map<string, boolean>();
    const ledgerKept = (month: string) =>
      kept.get(month) ?? kept.set(month, this.hasLedger(month)).get(month)!;
    return this.readEach(keys, async (key) => {
      const behind =
        unsettled === ALL
          ? null
          : [...unsettled.values()].filter(
              (ref) => ref.level === level && ref.key === key && ref.month.startsWith(`${year}-`),
            );
      if (behind !== null && behind.length === 0) {
        const path = this.layout.yearFile(level, key, year);
        const stored = await this.cachedRead(path, (text) => parseYearFile(text, path, level, key, year));
        if (stored === null || Object.keys(stored.months).every(ledgerKept)) return stored;
      }
      const names = await listNames(this.layout.yearDir(level, key, year), 'file');
      const stored = names.flatMap(
        (name) => MONTH_FILE.exec(name)?.slice(1, 2) ?? DAY_FILE.exec(name)?.[1].slice(0, 7) ?? [],
      );
      const months = [...new Set([...stored, ...(behind ?? []).map((ref) => ref.month)])];
      const rollups = await mapLimit(months, CONCURRENCY, (month) =>
        this.monthOf({ level, key, month }, unsettled),
      );
      const totals = Object.fromEntries(
        rollups.flatMap((rollup) => (rollup === null ? [] : [[rollup.month, rollup.totals] as const])),
      );
      return yearRollup(level, key, year, totals);
    });
  }

  /**
   * A month roll-up, from its days when a writer may not have brought it level yet. None when its
   * ledger month is gone: no hour of it counts (see `visibleDay`) until it is ingested again.
   */
  private async monthOf(ref: MonthRef, unsettled: Unsettled): Promise<MonthRollup | null> {
    const { level, key, month } = ref;
    if (!this.hasLedger(month)) return null;
    if (unsettled !== ALL && !unsettled.has(monthId(ref))) {
      const path = this.layout.monthFile(level, key, month);
      return this.cachedRead(path, (text) => parseMonthFile(text, path, level, key, month));
    }
    const names = await listNames(this.layout.yearDir(level, key, month.slice(0, 4)), 'file');
    const dates = names
      .flatMap((name) => DAY_FILE.exec(name)?.slice(1, 2) ?? [])
      .filter((date) => date.startsWith(`${month}-`));
    const recordOf = await this.recordsOf(month);
    const days = await mapLimit(dates, CONCURRENCY, (date) => this.visibleDayOf(level, key, date, recordOf));
    const totals: Record<string, Breakdown> = {};
    for (const day of days) if (day !== null) totals[day.date] = day.totals;
    return monthRollup(level, key, month, totals);
  }

  /**
   * The months a writer's journal names: their roll-ups may be behind their days. Every month may
   * be, when the journal is damaged (until the writer's repair rebuilds them all).
   */
  private async unsettledMonths(): Promise<Unsettled> {
    const path = this.layout.journalFile;
    try {
      const months = await this.cachedRead(path, (text) => parseJournal(text, path));
      return new Map((months ?? []).map((ref) => [monthId(ref), ref]));
    } catch (err) {
      if (!(err instanceof CorruptFileError)) throw err;
      this.damage.reportOnce(
        err.path,
        err.message,
        'every month is rolled up from its days until a writer repairs it',
      );
      return ALL;
    }
  }

  async readInstanceProjects(): Promise<Map<string, ReadonlySet<string>>> {
    const path = this.layout.instanceProjectsFile;
    try {
      const text = await readStoreText(path);
      return text === null ? new Map() : parseInstanceProjects(text, path);
    } catch (err) {
      if (!(err instanceof CorruptFileError)) throw err;
      // Knowing no instance, scoped tokens see no INSTANCE series until ingestion rebuilds it.
      this.damage.reportOnce(
        err.path,
        err.message,
        'no instance is known to scoped tokens until an operator restores it',
      );
      return new Map();
    }
  }

  async listKeys(level: Level): Promise<string[]> {
    // A key comes or goes with its directory, which changes the level directory's stamp.
    const keys = await this.cache.get(
      this.layout.levelDir(level),
      async () => {
        const listed = await this.listKeysNow(level);
        return { value: listed, chars: listed.length * 16 };
      },
      { settledMs: 2000 },
    );
    return [...(keys ?? [])];
  }

  private async listKeysNow(level: Level): Promise<string[]> {
    const keys: string[] = [];
    for (const name of await listNames(this.layout.levelDir(level), 'directory')) {
      const key = decodeKey(name);
      if (key === null) this.log.warn('ignoring a directory that names no key', { level, name });
      else keys.push(key);
    }
    return keys.sort();
  }

  private cachedRead<T>(path: string, parse: (text: string) => T): Promise<T | null> {
    return this.cache.get(path, async () => {
      const text = await readStoreText(path);
      return text === null ? null : { value: parse(text), chars: text.length };
    });
  }

  /**
   * A key that can never be stored has no entries, rather than failing the whole read. A damaged
   * file fails only its key's read (a PartialReadError carries the others) and is reported.
   */
  private async readEach<T>(
    keys: readonly string[],
    read: (key: string) => Promise<T | null>,
  ): Promise<Array<T | null>> {
    const results = await mapLimit(
      keys,
      CONCURRENCY,
      async (key): Promise<T | null | UnreadableDataError> => {
        if (!isStorableKey(key)) return null;
        try {
          return await read(key);
        } catch (err) {
          const file =
            err instanceof CorruptFileError ? usageFileOf(this.layout.dataDir, err.path) : undefined;
          if (file === undefined) throw err;
          this.damage.report(err as CorruptFileError);
          return new UnreadableDataError(file.level, file.key, periodOf(file), { cause: err });
        }
      },
    );
    if (results.some((result) => result instanceof UnreadableDataError)) throw new PartialReadError(results);
    return results as Array<T | null>;
  }
}

function periodOf(file: UsageFile): string {
  switch (file.kind) {
    case 'day':
      return file.date;
    case 'month':
      return file.month;
    case 'year':
      return file.year;
  }
}
