import { mkdir, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Breakdown } from '../../domain/figures';
import { LEVELS, type Level } from '../../domain/levels';
import { utcMonth } from '../../domain/time';
import type { DayEntry, IngestBatch, LedgerHour, MonthRollup, YearRollup } from '../../domain/usage';
import { silentLogger, type Logger } from '../../log';
import type { Store } from '../store';
import { planBatch, validateBatch } from './batch';
import {
  dayFileText,
  instanceProjectsText,
  journalText,
  monthFileText,
  parseDayFile,
  parseInstanceProjects,
  parseJournal,
  parseMonthFile,
  parseYearFile,
  yearFileText,
  type MonthRef,
} from './codec';
import {
  listNames,
  mapLimit,
  putFile,
  readTextIfExists,
  removeDirIfEmpty,
  removeStaleTemporaries,
  syncDir,
  writeFileAtomic,
} from './files';
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
import { ledgerFileText, parseLedgerFile } from './ledger';
import { mergeDay, monthRollup, withUpdates, yearRollup, type DayChange } from './merge';

/** Files read or written at once: enough to keep the disk busy, few enough for the fd limit. */
const CONCURRENCY = 32;

interface YearRef {
  level: Level;
  key: string;
  year: string;
}

interface DayWrite {
  level: Level;
  key: string;
  date: string;
  /** The new file text, or null when the day entry goes. */
  text: string | null;
  totals: Breakdown | null;
}

interface MonthUpdate {
  ref: MonthRef;
  changed: boolean;
  /** Null when the month has no day left. */
  totals: Breakdown | null;
}

const monthOf = ({ level, key }: { level: Level; key: string }, date: string): MonthRef => ({
  level,
  key,
  month: date.slice(0, 7),
});

const yearOf = ({ level, key }: { level: Level; key: string }, period: string): YearRef => ({
  level,
  key,
  year: period.slice(0, 4),
});

/** Groups items by a composite identity, in order of first appearance. */
function groupBy<T, K>(items: readonly T[], identity: (item: T) => K): Array<[K, T[]]> {
  const groups = new Map<string, [K, T[]]>();
  for (const item of items) {
    const id = identity(item);
    const name = JSON.stringify(id);
    const group = groups.get(name) ?? [id, []];
    groups.set(name, group);
    group[1].push(item);
  }
  return [...groups.values()];
}

/**
 * The embedded default store: JSON files under one data directory (contract section 3).
 * Batches from one process are applied one after another; two processes must not apply batches
 * to the same directory at the same time.
 */
export class JsonStore implements Store {
  private readonly layout: JsonLayout;
  private writing: Promise<unknown> = Promise.resolve();

  constructor(
    dataDir: string,
    private readonly log: Logger,
  ) {
    this.layout = new JsonLayout(dataDir);
  }

  applyBatch(batch: IngestBatch): Promise<void> {
    const applied = this.writing.then(() => this.applyNow(batch));
    this.writing = applied.catch(() => undefined);
    return applied;
  }

  async readLedgerMonth(month: string): Promise<Map<number, LedgerHour>> {
    const path = this.layout.ledgerFile(checkedMonth(month));
    const text = await readTextIfExists(path);
    return text === null ? new Map() : parseLedgerFile(text, path);
  }

  async readDays(level: Level, date: string, keys: readonly string[]): Promise<Array<DayEntry | null>> {
    checkedDate(date);
    return this.readEach(keys, async (key) => {
      const path = this.layout.dayFile(level, key, date);
      const text = await readTextIfExists(path);
      return text === null ? null : parseDayFile(text, path, level, key, date);
    });
  }

  async readMonths(level: Level, month: string, keys: readonly string[]): Promise<Array<MonthRollup | null>> {
    checkedMonth(month);
    return this.readEach(keys, async (key) => (await this.readMonth({ level, key, month }))?.rollup ?? null);
  }

  async readYears(level: Level, year: string, keys: readonly string[]): Promise<Array<YearRollup | null>> {
    checkedYear(year);
    return this.readEach(keys, async (key) => (await this.readYear({ level, key, year }))?.rollup ?? null);
  }

  async readInstanceProjects(): Promise<Map<string, ReadonlySet<string>>> {
    const path = this.layout.instanceProjectsFile;
    const text = await readTextIfExists(path);
    return text === null ? new Map() : parseInstanceProjects(text, path);
  }

  async listKeys(level: Level): Promise<string[]> {
    const keys: string[] = [];
    for (const name of await listNames(this.layout.levelDir(level), 'directory')) {
      const key = decodeKey(name);
      if (key === null) this.log.warn('ignoring a directory that names no key', { level, name });
      else keys.push(key);
    }
    return keys.sort();
  }

  async checkReadable(): Promise<void> {
    await mkdir(this.layout.dataDir, { recursive: true });
    await readdir(this.layout.dataDir);
  }

  async close(): Promise<void> {
    await this.writing;
  }

  /**
   * Brings roll-ups level with their days after a batch that stopped part-way (see `applyNow`),
   * and removes the temporary files a killed writer left: in the data directory (the journal's),
   * the ledger's directories, and the directories of the months the journal names (the only
   * other places a batch writes, and only while its journal exists).
   */
  async repairFromJournal(): Promise<void> {
    const ledgerYears = await listNames(this.layout.ledgerDir, 'directory');
    const swept = [this.layout.dataDir, ...ledgerYears.map((year) => join(this.layout.ledgerDir, year))];
    let stale = (await mapLimit(swept, CONCURRENCY, (dir) => removeStaleTemporaries(dir))).reduce(
      (a, b) => a + b,
      0,
    );
    const path = this.layout.journalFile;
    const text = await readTextIfExists(path);
    if (text === null) {
      if (stale > 0) this.log.warn('removed temporary files a killed writer left', { files: stale });
      return;
    }
    const months = parseJournal(text, path);
    const monthDirs = months.flatMap(({ level, key, month }) => [
      this.layout.yearDir(level, key, month.slice(0, 4)),
      this.layout.keyDir(level, key),
    ]);
    stale += (
      await mapLimit([...new Set(monthDirs)], CONCURRENCY, (dir) => removeStaleTemporaries(dir))
    ).reduce((a, b) => a + b, 0);
    this.log.warn('an earlier batch stopped part-way; rebuilding its roll-ups from the day entries', {
      months: months.length,
      temporaryFilesRemoved: stale,
    });
    await mapLimit(months, CONCURRENCY, (ref) => this.rebuildMonth(ref));
    const years = groupBy(months, (ref) => yearOf(ref, ref.month)).map(([year]) => year);
    await mapLimit(years, CONCURRENCY, (ref) => this.rebuildYear(ref));
    await this.removeEmptyDirs(years);
    await putFile(path, null);
  }

  private async applyNow(batch: IngestBatch): Promise<void> {
    validateBatch(batch);
    await this.repairFromJournal();
    const ledger = await this.readLedgerMonths(batch.outcomes.map((outcome) => utcMonth(outcome.hour)));
    const ledgerBefore = new Map([...ledger].map(([month, { hours }]) => [month, hours]));
    const plan = planBatch(batch.outcomes, ledgerBefore, batch.attemptedAt);
    const dayWrites = await this.planDayWrites(batch.entries, plan.days);
    // Before the days: a crash then leaves the index knowing a project too many (a scoped token is
    // refused the instance), never one too few (it would see another project's usage).
    await this.mergeInstanceProjects(batch.instanceProjects ?? {});

    // Crash safety rests on this order: the journal names every month whose days are about to
    // change, and goes only once the roll-ups and the ledger agree with the days.
    if (dayWrites.length > 0) await this.writeDaysAndRollups(dayWrites);
    await mapLimit([...plan.ledger], CONCURRENCY, async ([month, hours]) => {
      const text = ledgerFileText(hours);
      if (text !== ledger.get(month)?.text) await writeFileAtomic(this.layout.ledgerFile(month), text);
    });
    if (dayWrites.length > 0) await putFile(this.layout.journalFile, null);
  }

  private async mergeInstanceProjects(batch: Readonly<Record<string, readonly string[]>>): Promise<void> {
    const known = await this.readInstanceProjects();
    let grew = false;
    for (const [instance, projects] of Object.entries(batch)) {
      const set = new Set(known.get(instance));
      for (const project of projects) {
        if (!set.has(project)) {
          set.add(project);
          grew = true;
        }
      }
      known.set(instance, set);
    }
    if (grew) await writeFileAtomic(this.layout.instanceProjectsFile, instanceProjectsText(known));
  }

  private async readLedgerMonths(
    months: readonly string[],
  ): Promise<Map<string, { hours: Map<number, LedgerHour>; text: string | null }>> {
    const unique = [...new Set(months)];
    const read = await mapLimit(unique, CONCURRENCY, async (month) => {
      const path = this.layout.ledgerFile(month);
      const text = await readTextIfExists(path);
      return { hours: text === null ? new Map<number, LedgerHour>() : parseLedgerFile(text, path), text };
    });
    return new Map(unique.map((month, i) => [month, read[i]]));
  }

  /**
   * Reads each day the batch touches for every key that could change there: the batch's keys and
   * every stored key (an ok hour may remove its bucket, a failed hour marks it). Returns only the
   * days whose text changes.
   */
  private async planDayWrites(
    entries: readonly DayEntry[],
    days: ReadonlyMap<string, DayChange>,
  ): Promise<DayWrite[]> {
    if (days.size === 0) return [];
    const entryId = (level: Level, key: string, date: string) => JSON.stringify([level, key, date]);
    const incoming = new Map(entries.map((entry) => [entryId(entry.level, entry.key, entry.date), entry]));
    const writes: DayWrite[] = [];
    for (const level of LEVELS) {
      const batchKeys = entries.filter((entry) => entry.level === level).map((entry) => entry.key);
      const keys = [...new Set([...(await this.listKeys(level)), ...batchKeys])];
      const candidates = keys.flatMap((key) => [...days].map(([date, change]) => ({ key, date, change })));
      const planned = await mapLimit(candidates, CONCURRENCY, async ({ key, date, change }) => {
        const path = this.layout.dayFile(level, key, date);
        const before = await readTextIfExists(path);
        const existing = before === null ? null : parseDayFile(before, path, level, key, date);
        const incomingEntry = incoming.get(entryId(level, key, date)) ?? null;
        const after = mergeDay({ level, key, date }, existing, incomingEntry, change);
        const text = after === null ? null : dayFileText(after);
        return text === before ? [] : [{ level, key, date, text, totals: after?.totals ?? null }];
      });
      writes.push(...planned.flat());
    }
    return writes;
  }

  private async writeDaysAndRollups(dayWrites: readonly DayWrite[]): Promise<void> {
    const months = groupBy(dayWrites, (write) => monthOf(write, write.date));
    await writeFileAtomic(this.layout.journalFile, journalText(months.map(([ref]) => ref)));
    await syncDir(this.layout.dataDir);

    await mapLimit(dayWrites, CONCURRENCY, ({ level, key, date, text }) =>
      putFile(this.layout.dayFile(level, key, date), text),
    );
    const monthUpdates = await mapLimit(months, CONCURRENCY, ([ref, writes]) =>
      this.updateMonth(ref, new Map(writes.map(({ date, totals }) => [date, totals]))),
    );
    // A month whose file did not change has the totals its year already holds.
    const changedMonths = monthUpdates.filter((update) => update.changed);
    const years = groupBy(changedMonths, ({ ref }) => yearOf(ref, ref.month));
    await mapLimit(years, CONCURRENCY, ([ref, updates]) =>
      this.updateYear(ref, new Map(updates.map(({ ref: { month }, totals }) => [month, totals]))),
    );
    const emptied = dayWrites.filter((write) => write.text === null);
    await this.removeEmptyDirs(groupBy(emptied, (write) => yearOf(write, write.date)).map(([year]) => year));
  }

  /** A key that can never be stored has no entries, rather than failing the whole read. */
  private readEach<T>(
    keys: readonly string[],
    read: (key: string) => Promise<T | null>,
  ): Promise<Array<T | null>> {
    return mapLimit(keys, CONCURRENCY, (key) => (isStorableKey(key) ? read(key) : Promise.resolve(null)));
  }

  private async readMonth(ref: MonthRef): Promise<{ rollup: MonthRollup; text: string } | null> {
    const path = this.layout.monthFile(ref.level, ref.key, ref.month);
    const text = await readTextIfExists(path);
    return text === null ? null : { rollup: parseMonthFile(text, path, ref.level, ref.key, ref.month), text };
  }

  private async updateMonth(
    ref: MonthRef,
    dayTotals: ReadonlyMap<string, Breakdown | null>,
  ): Promise<MonthUpdate> {
    const before = await this.readMonth(ref);
    const days = withUpdates(before?.rollup.days ?? {}, dayTotals);
    return this.putMonth(ref, before?.text ?? null, monthRollup(ref.level, ref.key, ref.month, days));
  }

  private async rebuildMonth(ref: MonthRef): Promise<void> {
    const { level, key, month } = ref;
    const names = await listNames(this.layout.yearDir(level, key, month.slice(0, 4)), 'file');
    const dates = names
      .flatMap((name) => DAY_FILE.exec(name)?.slice(1, 2) ?? [])
      .filter((date) => date.startsWith(`${month}-`));
    const days = await mapLimit(dates, CONCURRENCY, async (date) => {
      const path = this.layout.dayFile(level, key, date);
      const text = await readTextIfExists(path);
      if (text === null) throw new Error(`Day entry ${path} vanished while its month was being rebuilt`);
      return [date, parseDayFile(text, path, level, key, date).totals] as const;
    });
    const before = await readTextIfExists(this.layout.monthFile(level, key, month));
    await this.putMonth(ref, before, monthRollup(level, key, month, Object.fromEntries(days)));
  }

  private async putMonth(
    ref: MonthRef,
    before: string | null,
    after: MonthRollup | null,
  ): Promise<MonthUpdate> {
    const text = after === null ? null : monthFileText(after);
    const changed = text !== before;
    if (changed) await putFile(this.layout.monthFile(ref.level, ref.key, ref.month), text);
    return { ref, changed, totals: after?.totals ?? null };
  }

  private async readYear(ref: YearRef): Promise<{ rollup: YearRollup; text: string } | null> {
    const path = this.layout.yearFile(ref.level, ref.key, ref.year);
    const text = await readTextIfExists(path);
    return text === null ? null : { rollup: parseYearFile(text, path, ref.level, ref.key, ref.year), text };
  }

  private async updateYear(ref: YearRef, monthTotals: ReadonlyMap<string, Breakdown | null>): Promise<void> {
    const before = await this.readYear(ref);
    const months = withUpdates(before?.rollup.months ?? {}, monthTotals);
    await this.putYear(ref, before?.text ?? null, yearRollup(ref.level, ref.key, ref.year, months));
  }

  private async rebuildYear(ref: YearRef): Promise<void> {
    const { level, key, year } = ref;
    const names = await listNames(this.layout.yearDir(level, key, year), 'file');
    const months = names
      .flatMap((name) => MONTH_FILE.exec(name)?.slice(1, 2) ?? [])
      .filter((month) => month.startsWith(`${year}-`));
    const rollups = await mapLimit(months, CONCURRENCY, (month) => this.readMonth({ level, key, month }));
    const monthTotals = Object.fromEntries(
      rollups.flatMap((read) => (read === null ? [] : [[read.rollup.month, read.rollup.totals] as const])),
    );
    const before = await readTextIfExists(this.layout.yearFile(level, key, year));
    await this.putYear(ref, before, yearRollup(level, key, year, monthTotals));
  }

  private async putYear(ref: YearRef, before: string | null, after: YearRollup | null): Promise<void> {
    const text = after === null ? null : yearFileText(after);
    if (text !== before) await putFile(this.layout.yearFile(ref.level, ref.key, ref.year), text);
  }

  /** A key whose last entry went leaves no directory behind, so it is no longer listed or known. */
  private async removeEmptyDirs(years: readonly YearRef[]): Promise<void> {
    await mapLimit(years, CONCURRENCY, ({ level, key, year }) =>
      removeDirIfEmpty(this.layout.yearDir(level, key, year)),
    );
    const keyDirs = [...new Set(years.map(({ level, key }) => this.layout.keyDir(level, key)))];
    await mapLimit(keyDirs, CONCURRENCY, removeDirIfEmpty);
  }
}

export async function openJsonStore(options: { dataDir: string; log?: Logger }): Promise<JsonStore> {
  await mkdir(options.dataDir, { recursive: true });
  const store = new JsonStore(options.dataDir, options.log ?? silentLogger);
  await store.repairFromJournal();
  return store;
}
