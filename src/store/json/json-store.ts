import { existsSync } from 'node:fs';
import { mkdir, readdir, rm } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { packBreakdown, unpackBreakdown, type Breakdown, type PackedBreakdown } from '../../domain/figures';
import { LEVELS, type Level } from '../../domain/levels';
import { utcDate, utcMonth } from '../../domain/time';
import {
  FAILED,
  type DayEntry,
  type IngestBatch,
  type LedgerHour,
  type MonthRollup,
  type YearRollup,
} from '../../domain/usage';
import { INGEST_LOCK_FILE, removeDeadWritersTemporaries, withIngestLockIfFree } from '../../ingest/lock';
import { errorFields, silentLogger, type Logger } from '../../log';
import {
  PartialReadError,
  UnreadableDataError,
  type ApplyOptions,
  type ApplyResult,
  type Store,
} from '../store';
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
  hasCode,
  listNames,
  mapLimit,
  putFile,
  putFiles,
  syncDirs,
  removeDirIfEmpty,
  removeStaleTemporaries,
  syncDir,
  writeFileAtomic,
} from '../../fs/files';
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
import { CorruptFileError } from './errors';
import { ledgerFileText, parseLedgerFile } from './ledger';
import {
  moveAside,
  QuarantineLayout,
  readSuspects,
  usageFileOf,
  writeSuspect,
  type UsageFile,
} from './quarantine';
import { readStoreText, readStoreTextIfPresent } from './read';
import { ReadCache } from './read-cache';
import { JsonInstanceIndex } from './instance-index';
import { newestOkHour } from '../instance-index';
import { mergeDay, monthRollup, withUpdates, yearRollup, type DayChange } from './merge';

/** Files read or written at once: enough to keep the disk busy, few enough for the fd limit. */
const CONCURRENCY = 32;
/** Damaged files one repair or batch moves aside before it gives up. */
const MAX_QUARANTINED = 100;
/** A damaged file read on every request is reported again at most this often. */
const REPORT_EVERY_MS = 10 * 60_000;
/**
 * Characters of file text the read side keeps parsed (see ReadCache); parsed, a file takes a few
 * times its text. A year of hours of one project is ~22 M characters here, of one instance ~6 M.
 */
const READ_CACHE_CHARS = 64 * 1024 * 1024;
/** Month or year roll-ups a batch renders before writing them (their texts are held meanwhile). */
const ROLLUP_SLICE = 64;
/** Day entries a batch reads, renders and writes at a time (their texts are held meanwhile). */
const DAY_SLICE = 64;

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

interface DayCandidate {
  level: Level;
  key: string;
  date: string;
  change: DayChange;
}

/** A day a batch changed, once written. */
interface DayChanged {
  level: Level;
  key: string;
  date: string;
  /** Null when the day went. */
  totals: Breakdown | null;
}

const dayId = (level: Level, key: string, date: string): string => JSON.stringify([level, key, date]);
const monthId = ({ level, key, month }: MonthRef): string => JSON.stringify([level, key, month]);

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
  readonly instances: JsonInstanceIndex;
  private readonly layout: JsonLayout;
  private writing: Promise<unknown> = Promise.resolve();
  private readonly quarantine: QuarantineLayout;
  /** When each unreadable file was last reported. */
  private readonly reported = new Map<string, number>();
  private readonly cache = new ReadCache(READ_CACHE_CHARS);
  /**
   * Months whose days changed in batches applied with `deferRollups`, with those days' new totals
   * (null: the day went). Their roll-ups are brought level once the batches have moved past the
   * month, or on `settleRollups`, rather than after every batch. The journal names them meanwhile.
   */
  private readonly pending = new Map<string, { ref: MonthRef; days: Map<string, PackedBreakdown | null> }>();
  /**
   * The months named by the journal this store wrote and still trusts; null when it wrote none, or
   * when what is pending may differ from the disk (a batch failed part-way): the journal is then
   * left for `repairFromJournal` to rebuild from the days.
   */
  private journaled: Map<string, MonthRef> | null = null;
  /** A journal of this store's was left to the repair (see `forgetPending`) and is not yet repaired. */
  private journalLeft = false;

  constructor(
    dataDir: string,
    private readonly log: Logger,
  ) {
    this.layout = new JsonLayout(dataDir);
    this.instances = new JsonInstanceIndex(dataDir);
    this.quarantine = new QuarantineLayout(dataDir);
  }

  applyBatch(batch: IngestBatch, options: ApplyOptions = {}): Promise<ApplyResult> {
    return this.serially(() => this.applyNow(batch, options));
  }

  /**
   * Also finishes, from the days, what a batch of this process that failed left to the journal:
   * the caller holds the ingest lock (it applied those batches), so the journal is its own.
   */
  settleRollups(): Promise<void> {
    return this.serially(async () => {
      if (this.journalLeft) await this.repairQuarantining();
      await this.settlePending();
    });
  }

  /** Settles every pending month, moving a damaged roll-up aside as a batch would. */
  private async settlePending(): Promise<void> {
    if (this.pending.size === 0) return;
    try {
      await this.settle(() => true);
      await this.removeJournalOnceSettled();
    } catch (err) {
      this.forgetPending();
      if (!(await this.quarantineIfUsage(err))) throw err;
      await this.repairQuarantining();
    }
  }

  /** Batches and settlements from this process, one after another. */
  private serially<T>(work: () => Promise<T>): Promise<T> {
    const done = this.writing.then(work);
    this.writing = done.catch(() => undefined);
    return done;
  }

  private forgetPending(): void {
    if (this.journaled !== null) this.journalLeft = true;
    this.pending.clear();
    this.journaled = null;
  }

  async readLedgerMonth(month: string): Promise<Map<number, LedgerHour>> {
    const path = this.layout.ledgerFile(checkedMonth(month));
    // Shared with other readers through the cache: callers only read it.
    return (await this.cachedRead(path, (text) => parseLedgerFile(text, path))) ?? new Map();
  }

  async readDays(level: Level, date: string, keys: readonly string[]): Promise<Array<DayEntry | null>> {
    checkedDate(date);
    return this.readEach(keys, async (key) => {
      const path = this.layout.dayFile(level, key, date);
      return this.cachedRead(path, (text) => parseDayFile(text, path, level, key, date));
    });
  }

  async readMonths(level: Level, month: string, keys: readonly string[]): Promise<Array<MonthRollup | null>> {
    checkedMonth(month);
    if (this.pending.size > 0) await this.serially(() => this.settlePending());
    return this.readEach(keys, (key) => {
      const path = this.layout.monthFile(level, key, month);
      return this.cachedRead(path, (text) => parseMonthFile(text, path, level, key, month));
    });
  }

  async readYears(level: Level, year: string, keys: readonly string[]): Promise<Array<YearRollup | null>> {
    checkedYear(year);
    if (this.pending.size > 0) await this.serially(() => this.settlePending());
    return this.readEach(keys, (key) => {
      const path = this.layout.yearFile(level, key, year);
      return this.cachedRead(path, (text) => parseYearFile(text, path, level, key, year));
    });
  }

  /** The read side's files go through the cache; the write side always reads the disk. */
  private cachedRead<T>(path: string, parse: (text: string) => T): Promise<T | null> {
    return this.cache.get(path, async () => {
      const text = await readStoreText(path);
      return text === null ? null : { value: parse(text), chars: text.length };
    });
  }

  async readInstanceProjects(): Promise<Map<string, ReadonlySet<string>>> {
    const path = this.layout.instanceProjectsFile;
    const text = await readStoreText(path);
    return text === null ? new Map() : parseInstanceProjects(text, path);
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

  async checkReadable(): Promise<void> {
    await mkdir(this.layout.dataDir, { recursive: true });
    await readdir(this.layout.dataDir);
  }

  async close(): Promise<void> {
    // Not the repair of a journal left behind: another process may hold the lock by now.
    await this.serially(() => this.settlePending());
  }

  /**
   * Brings roll-ups level with their days after a batch that stopped part-way (see `applyNow`),
   * and removes the temporary files a killed writer left: in the data directory (the journal's),
   * the ledger's directories, and the directories of the months the journal names (the only
   * other places a batch writes, and only while its journal exists).
   */
  async repairFromJournal(): Promise<void> {
    // The journal of this store's own deferred roll-ups: the months it names are settled in turn.
    if (this.journaled !== null) return;
    const ledgerYears = await listNames(this.layout.ledgerDir, 'directory');
    const swept = [
      this.layout.dataDir,
      join(this.layout.dataDir, 'index'),
      ...ledgerYears.map((year) => join(this.layout.ledgerDir, year)),
    ];
    let stale = (await mapLimit(swept, CONCURRENCY, (dir) => removeStaleTemporaries(dir))).reduce(
      (a, b) => a + b,
      0,
    );
    const path = this.layout.journalFile;
    const text = await readStoreText(path);
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
    const repair = { at: new Date(), ledger: new Map() };
    await mapLimit(months, CONCURRENCY, (ref) => this.rebuildMonth(ref, repair));
    const years = groupBy(months, (ref) => yearOf(ref, ref.month)).map(([year]) => year);
    await mapLimit(years, CONCURRENCY, (ref) => this.rebuildYear(ref));
    await this.removeEmptyDirs(years);
    await putFile(path, null);
    this.journalLeft = false;
  }

  /**
   * `repairFromJournal`, then the unreadable files readers reported: each damaged day entry or
   * roll-up is moved aside (see `quarantineIfUsage`) until the roll-ups rebuild cleanly.
   */
  async repairQuarantining(): Promise<void> {
    for (let round = 1; ; round++) {
      try {
        await this.repairFromJournal();
        if (!(await this.takeSuspects())) return;
      } catch (err) {
        if (round > MAX_QUARANTINED || !(await this.quarantineIfUsage(err))) throw err;
      }
    }
  }

  /** Deals with the files readers reported; true when one was moved aside (its roll-ups to rebuild). */
  private async takeSuspects(): Promise<boolean> {
    let moved = false;
    for (const suspect of await readSuspects(this.quarantine)) {
      const file = suspect.path === '' ? undefined : usageFileOf(this.layout.dataDir, suspect.path);
      if (file !== undefined) {
        const text = await readStoreText(suspect.path);
        // Gone, or readable again (a batch rewrote it since): nothing to do.
        const problem = text === null ? undefined : problemReading(file, text, suspect.path);
        if (problem !== undefined && (await this.quarantineIfUsage(problem))) moved = true;
      }
      await rm(suspect.notice, { force: true });
    }
    return moved;
  }

  /**
   * Moves a damaged usage file aside, to `quarantine/<time>/<its path>`, and works around it:
   * true when `err` is a CorruptFileError of a day entry or a roll-up, false for anything else.
   * A roll-up is rebuilt from what it rolls up. A day entry's ok hours become failed in the ledger,
   * marked so a failed attempt keeps the figures other keys hold for them: they read as failed,
   * not as zero, and the next ingestion of them (the reconcile, or `carbonledger ingest` over the
   * day) writes them again. The journal names the months to rebuild before anything moves, so a
   * crash part-way is finished by the next repair.
   */
  private async quarantineIfUsage(err: unknown): Promise<boolean> {
    if (!(err instanceof CorruptFileError)) return false;
    const file = usageFileOf(this.layout.dataDir, err.path);
    if (file === undefined) return false;
    // A pending day may be the one that goes: the repair rebuilds every month the journal names.
    this.forgetPending();
    const journal = await readStoreText(this.layout.journalFile);
    const pending = journal === null ? [] : parseJournal(journal, this.layout.journalFile);
    const months = groupBy([...pending, ...(await this.monthsRollingUp(file))], (ref) => ref).map(
      ([ref]) => ref,
    );
    if (months.length > 0) {
      await writeFileAtomic(this.layout.journalFile, journalText(months));
      await syncDir(this.layout.dataDir);
    }
    const to = this.quarantine.destination(err.path, new Date());
    const movedTo = relative(this.layout.dataDir, to);
    if (file.kind === 'day') await this.failHoursOf(file, movedTo);
    await moveAside(err.path, to);
    this.log.error(
      file.kind === 'day'
        ? 'moved a damaged day entry aside; its hours are failed until ingested again'
        : 'moved a damaged roll-up aside; it is rebuilt from what it rolls up',
      { path: err.path, movedTo: to, reason: err.message },
    );
    return true;
  }

  /** The months whose roll-ups (and years) must be rebuilt once `file` is gone. */
  private async monthsRollingUp(file: UsageFile): Promise<MonthRef[]> {
    const { level, key } = file;
    if (file.kind === 'day') return [{ level, key, month: file.date.slice(0, 7) }];
    if (file.kind === 'month') return [{ level, key, month: file.month }];
    const names = await listNames(this.layout.yearDir(level, key, file.year), 'file');
    return names
      .flatMap((name) => MONTH_FILE.exec(name)?.slice(1, 2) ?? [])
      .map((month) => ({ level, key, month }));
  }

  private async failHoursOf(file: UsageFile & { kind: 'day' }, movedTo: string): Promise<void> {
    const month = file.date.slice(0, 7);
    const path = this.layout.ledgerFile(month);
    const text = await readStoreText(path);
    if (text === null) return;
    const hours = parseLedgerFile(text, path);
    const error =
      `the stored day entry of ${file.level} ${JSON.stringify(file.key)} was damaged and moved to ` +
      `${movedTo}; ingest ${file.date} again`;
    for (const [hour, record] of hours) {
      if (utcDate(hour) !== file.date || record.status !== 'ok') continue;
      hours.set(hour, {
        status: 'failed',
        attempts: 0,
        error,
        lastAttemptAt: new Date().toISOString(),
        keepsFigures: true,
      });
    }
    const after = ledgerFileText(hours);
    if (after !== text) await writeFileAtomic(path, after);
  }

  private async applyNow(batch: IngestBatch, options: ApplyOptions): Promise<ApplyResult> {
    validateBatch(batch);
    await this.repairQuarantining();
    // A damaged file the batch comes across is moved aside, and the batch planned again without it.
    for (let round = 1; ; round++) {
      try {
        return await this.applyOnce(batch, options);
      } catch (err) {
        // What is pending may no longer be what the disk holds; the journal names it all.
        this.forgetPending();
        if (round > MAX_QUARANTINED || !(await this.quarantineIfUsage(err))) throw err;
        await this.repairQuarantining();
      }
    }
  }

  private async applyOnce(batch: IngestBatch, options: ApplyOptions): Promise<ApplyResult> {
    const deferRollups = options.deferRollups === true;
    const ledger = await this.readLedgerMonths(batch.outcomes.map((outcome) => utcMonth(outcome.hour)));
    const ledgerBefore = new Map([...ledger].map(([month, { hours }]) => [month, hours]));
    const plan = planBatch(batch.outcomes, ledgerBefore, batch.attemptedAt, options.replace === true);
    const candidates = await this.dayCandidates(batch.entries, plan.days);
    // Before the days: a crash then leaves the index knowing a project too many (a scoped token is
    // refused the instance), never one too few (it would see another project's usage).
    await this.mergeInstanceProjects(batch.instanceProjects ?? {});

    // Crash safety rests on this order: the journal names every month whose days are about to
    // change, and goes only once the roll-ups and the ledger agree with the days.
    for (const day of await this.writeDays(batch.entries, candidates)) {
      const ref = monthOf(day, day.date);
      const id = monthId(ref);
      const month = this.pending.get(id) ?? { ref, days: new Map<string, PackedBreakdown | null>() };
      this.pending.set(id, month);
      month.days.set(day.date, day.totals === null ? null : packBreakdown(day.totals));
    }
    // Batches go forward in time: a month before the batch's last is one they have moved past.
    const lastHour = batch.outcomes.reduce((last, { hour }) => Math.max(last, hour), -Infinity);
    const lastMonth = Number.isFinite(lastHour) ? utcMonth(lastHour) : '';
    await this.settle(deferRollups ? (ref) => ref.month < lastMonth : () => true);
    const ledgerWrites = [...plan.ledger].flatMap(([month, hours]) => {
      const text = ledgerFileText(hours);
      return text === ledger.get(month)?.text ? [] : [{ path: this.layout.ledgerFile(month), text }];
    });
    await putFiles(ledgerWrites, CONCURRENCY);
    await this.removeJournalOnceSettled();
    // After the days: the index is derived from them, and re-ingesting the hours brings it level.
    await this.instances.record(batch.instances ?? [], newestOkHour(batch));
    return { keptHours: plan.kept };
  }

  private async removeJournalOnceSettled(): Promise<void> {
    if (this.pending.size > 0 || this.journaled === null) return;
    await putFile(this.layout.journalFile, null);
    this.journaled = null;
  }

  /**
   * Writes the journal before a batch's first day changes, naming the batch's months and every
   * pending one, unless the journal already names them all. A month settled since it was written
   * may stay named: a repair rebuilds it to the text it has.
   */
  private async journalCovering(candidates: readonly DayCandidate[]): Promise<void> {
    const months = new Map<string, MonthRef>();
    for (const { ref } of this.pending.values()) months.set(monthId(ref), ref);
    for (const [ref] of groupBy(candidates, (candidate) => monthOf(candidate, candidate.date))) {
      months.set(monthId(ref), ref);
    }
    const journaled = this.journaled;
    const covered = journaled !== null && [...months.keys()].every((id) => journaled.has(id));
    // One stat a batch: a journal removed behind this store's back is written again.
    if (covered && existsSync(this.layout.journalFile)) return;
    await writeFileAtomic(this.layout.journalFile, journalText([...months.values()]));
    await syncDir(this.layout.dataDir);
    this.journaled = months;
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
      const text = await readStoreTextIfPresent(path);
      return { hours: text === null ? new Map<number, LedgerHour>() : parseLedgerFile(text, path), text };
    });
    return new Map(unique.map((month, i) => [month, read[i]]));
  }

  /**
   * Each day the batch touches for every key that could change there: the batch's keys and every
   * stored key (an ok hour may remove its bucket, a failed hour marks it).
   */
  private async dayCandidates(
    entries: readonly DayEntry[],
    days: ReadonlyMap<string, DayChange>,
  ): Promise<DayCandidate[]> {
    if (days.size === 0) return [];
    const candidates: DayCandidate[] = [];
    for (const level of LEVELS) {
      const batchKeys = entries.filter((entry) => entry.level === level).map((entry) => entry.key);
      const keys = [...new Set([...(await this.listKeys(level)), ...batchKeys])];
      for (const key of keys)
        for (const [date, change] of days) candidates.push({ level, key, date, change });
    }
    return candidates;
  }

  /** A candidate day's new text, or null when its text does not change. */
  private async planDay(
    { level, key, date, change }: DayCandidate,
    incoming: ReadonlyMap<string, DayEntry>,
  ): Promise<DayWrite | null> {
    const path = this.layout.dayFile(level, key, date);
    const before = await readStoreTextIfPresent(path);
    const existing = before === null ? null : parseDayFile(before, path, level, key, date);
    const incomingEntry = incoming.get(dayId(level, key, date)) ?? null;
    const after = mergeDay({ level, key, date }, existing, incomingEntry, change);
    const text = after === null ? null : dayFileText(after);
    return text === before ? null : { level, key, date, text, totals: after?.totals ?? null };
  }

  /**
   * Writes the candidate days whose text changes, durably, and returns them. Days are read,
   * rendered and written a slice at a time, so only a slice's texts are in memory. The journal goes
   * down before the first day changes (see `journalCovering`).
   */
  private async writeDays(
    entries: readonly DayEntry[],
    candidates: readonly DayCandidate[],
  ): Promise<DayChanged[]> {
    const incoming = new Map(entries.map((entry) => [dayId(entry.level, entry.key, entry.date), entry]));
    const dirs = new Set<string>();
    const changed: DayChanged[] = [];
    for (let start = 0; start < candidates.length; start += DAY_SLICE) {
      const slice = candidates.slice(start, start + DAY_SLICE);
      const planned = (
        await mapLimit(slice, CONCURRENCY, (candidate) => this.planDay(candidate, incoming))
      ).filter((write): write is DayWrite => write !== null);
      if (planned.length === 0) continue;
      if (changed.length === 0) await this.journalCovering(candidates);
      await putFiles(
        planned.map(({ level, key, date, text }) => ({ path: this.layout.dayFile(level, key, date), text })),
        CONCURRENCY,
        dirs,
      );
      changed.push(...planned.map(({ level, key, date, totals }) => ({ level, key, date, totals })));
    }
    // Before the ledger says the hours are in.
    await syncDirs(dirs, CONCURRENCY);
    return changed;
  }

  /** Brings the roll-ups of the pending months that are due level with their days. */
  private async settle(isDue: (ref: MonthRef) => boolean): Promise<void> {
    // A month that lost a day is settled at once: its key may have gone, and must not stay listed.
    const due = [...this.pending].filter(
      ([, { ref, days }]) => isDue(ref) || [...days.values()].includes(null),
    );
    if (due.length === 0) return;
    const dirs = new Set<string>();
    const monthUpdates = await this.updateRollups(
      dirs,
      due.map(([, { ref, days }]) => [ref, [days]] as const),
      (ref, [days]) =>
        this.updatedMonth(
          ref,
          new Map(
            [...days].map(([date, totals]) => [date, totals === null ? null : unpackBreakdown(totals)]),
          ),
        ),
    );
    // A month whose file did not change has the totals its year already holds.
    const changedMonths = monthUpdates.filter((update) => update.changed);
    const years = groupBy(changedMonths, ({ ref }) => yearOf(ref, ref.month));
    await this.updateRollups(dirs, years, (ref, updates) =>
      this.updatedYear(ref, new Map(updates.map(({ ref: { month }, totals }) => [month, totals]))),
    );
    await syncDirs(dirs, CONCURRENCY);
    for (const [id] of due) this.pending.delete(id);
    const emptied = monthUpdates.filter((update) => update.totals === null);
    await this.removeEmptyDirs(groupBy(emptied, ({ ref }) => yearOf(ref, ref.month)).map(([year]) => year));
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
          await this.reportUnreadable(err as CorruptFileError);
          return new UnreadableDataError(file.level, file.key, periodOf(file), { cause: err });
        }
      },
    );
    if (results.some((result) => result instanceof UnreadableDataError)) throw new PartialReadError(results);
    return results as Array<T | null>;
  }

  /**
   * Logs a damaged file and leaves a notice for the writer, which moves it aside (readers never
   * move files: one might move a good file a writer had just put in the damaged one's place).
   */
  private async reportUnreadable(err: CorruptFileError): Promise<void> {
    const now = Date.now();
    const last = this.reported.get(err.path);
    if (last !== undefined && now - last < REPORT_EVERY_MS) return;
    this.reported.set(err.path, now);
    this.log.error(
      'unreadable store file: reads of it are refused until the next ingestion moves it to quarantine/',
      {
        path: err.path,
        reason: err.message,
      },
    );
    try {
      await writeSuspect(this.quarantine, {
        path: err.path,
        reason: err.message,
        foundAt: new Date(now).toISOString(),
      });
    } catch (writeErr) {
      this.log.warn('could not leave a notice of the unreadable file for the writer', {
        path: err.path,
        ...errorFields(writeErr),
      });
    }
  }

  private async readMonth(
    ref: MonthRef,
    read: (path: string) => Promise<string | null> = readStoreText,
  ): Promise<{ rollup: MonthRollup; text: string } | null> {
    const path = this.layout.monthFile(ref.level, ref.key, ref.month);
    const text = await read(path);
    return text === null ? null : { rollup: parseMonthFile(text, path, ref.level, ref.key, ref.month), text };
  }

  /**
   * Roll-ups of a batch, a slice at a time: each slice's files are read and their new texts
   * rendered, then the changed ones written together (putFiles), so only a slice's texts are held.
   */
  private async updateRollups<R, W, U extends { changed: boolean }>(
    dirs: Set<string>,
    groups: ReadonlyArray<readonly [R, readonly W[]]>,
    update: (
      ref: R,
      items: readonly W[],
    ) => Promise<{ update: U; write: { path: string; text: string | null } }>,
  ): Promise<U[]> {
    const updates: U[] = [];
    for (let start = 0; start < groups.length; start += ROLLUP_SLICE) {
      const planned = await mapLimit(groups.slice(start, start + ROLLUP_SLICE), CONCURRENCY, ([ref, items]) =>
        update(ref, items),
      );
      await putFiles(
        planned.filter((p) => p.update.changed).map((p) => p.write),
        CONCURRENCY,
        dirs,
      );
      updates.push(...planned.map((p) => p.update));
    }
    return updates;
  }

  private async updatedMonth(
    ref: MonthRef,
    dayTotals: ReadonlyMap<string, Breakdown | null>,
  ): Promise<{ update: MonthUpdate; write: { path: string; text: string | null } }> {
    const before = await this.readMonth(ref, readStoreTextIfPresent);
    const days = withUpdates(before?.rollup.days ?? {}, dayTotals);
    const after = monthRollup(ref.level, ref.key, ref.month, days);
    const text = after === null ? null : monthFileText(after);
    return {
      update: { ref, changed: text !== (before?.text ?? null), totals: after?.totals ?? null },
      write: { path: this.layout.monthFile(ref.level, ref.key, ref.month), text },
    };
  }

  /**
   * A month roll-up from its day entries, after bringing them level with the ledger: a batch killed
   * after writing days, before recording their hours, left figures for hours the ledger has no
   * record of (taken out: they read MISSING until ingested again), or for hours it still holds as
   * failed (a retry's, turned back into `"failed"` markers). Roll-ups then count only ok hours.
   * Each day entry changed is kept as it was under `quarantine/<repair time>/<its path>`. When the
   * ledger month cannot be read, the days are rolled up as they are and the ledger's damage is
   * reported where it is read.
   */
  private async rebuildMonth(
    ref: MonthRef,
    repair: { at: Date; ledger: Map<string, Promise<ReadonlyMap<number, LedgerHour> | null>> },
  ): Promise<void> {
    const { level, key, month } = ref;
    const names = await listNames(this.layout.yearDir(level, key, month.slice(0, 4)), 'file');
    const dates = names
      .flatMap((name) => DAY_FILE.exec(name)?.slice(1, 2) ?? [])
      .filter((date) => date.startsWith(`${month}-`));
    let ledger = repair.ledger.get(month);
    if (ledger === undefined) repair.ledger.set(month, (ledger = this.ledgerForRepair(month)));
    const recorded = await ledger;
    const days = await mapLimit(dates, CONCURRENCY, async (date) => {
      const path = this.layout.dayFile(level, key, date);
      const text = await readStoreText(path);
      if (text === null) throw new Error(`Day entry ${path} vanished while its month was being rebuilt`);
      const entry = parseDayFile(text, path, level, key, date);
      const change = recorded === null ? null : dayLevelWithLedger(entry, recorded);
      if (change === null) return [[date, entry.totals] as const];
      const kept = mergeDay({ level, key, date }, entry, null, change);
      const keptAt = this.quarantine.destination(path, repair.at);
      // writeFileAtomic creates the directories it needs.
      await writeFileAtomic(keptAt, text);
      this.log.warn('brought a day entry level with the ledger after a batch stopped part-way', {
        path,
        unrecordedHours: change.replace,
        failedHours: change.markFailed,
        keptAt,
      });
      await putFile(path, kept === null ? null : dayFileText(kept));
      return kept === null ? [] : [[date, kept.totals] as const];
    });
    const before = await readStoreText(this.layout.monthFile(level, key, month));
    await this.putMonth(ref, before, monthRollup(level, key, month, Object.fromEntries(days.flat())));
  }

  /** The ledger month for a repair; null, logged, when it cannot be read (the repair goes on). */
  private async ledgerForRepair(month: string): Promise<ReadonlyMap<number, LedgerHour> | null> {
    try {
      return (await this.readLedgerMonths([month])).get(month)!.hours;
    } catch (err) {
      if (!(err instanceof CorruptFileError)) throw err;
      this.log.error('ledger month unreadable; rolling its days up as they are', {
        path: err.path,
        reason: err.message,
      });
      return null;
    }
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

  private async readYear(
    ref: YearRef,
    read: (path: string) => Promise<string | null> = readStoreText,
  ): Promise<{ rollup: YearRollup; text: string } | null> {
    const path = this.layout.yearFile(ref.level, ref.key, ref.year);
    const text = await read(path);
    return text === null ? null : { rollup: parseYearFile(text, path, ref.level, ref.key, ref.year), text };
  }

  private async updatedYear(
    ref: YearRef,
    monthTotals: ReadonlyMap<string, Breakdown | null>,
  ): Promise<{ update: { changed: boolean }; write: { path: string; text: string | null } }> {
    const before = await this.readYear(ref, readStoreTextIfPresent);
    const months = withUpdates(before?.rollup.months ?? {}, monthTotals);
    const after = yearRollup(ref.level, ref.key, ref.year, months);
    const text = after === null ? null : yearFileText(after);
    return {
      update: { changed: text !== (before?.text ?? null) },
      write: { path: this.layout.yearFile(ref.level, ref.key, ref.year), text },
    };
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
    const before = await readStoreText(this.layout.yearFile(level, key, year));
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
  const log = options.log ?? silentLogger;
  const store = new JsonStore(options.dataDir, log);
  // With no lock file, no ingestion runs: repair what a crash left. While one holds the lock, a
  // journal is its batch in progress, not a crash's, and repairing it from here (a server
  // starting, an export) would race that batch; the holder, or the next one, repairs before its
  // next batch (applyBatch always does). A lock a killed ingestion left is taken over, so its
  // crash is repaired now rather than read (day and month buckets from roll-ups behind their
  // days) until the next ingestion.
  if (!existsSync(join(options.dataDir, INGEST_LOCK_FILE))) {
    await store.repairQuarantining();
    await removeDeadWritersTemporaries(options.dataDir);
    return store;
  }
  try {
    await withIngestLockIfFree(options.dataDir, log, () => store.repairQuarantining(), {
      purpose: 'store open: repair',
    });
  } catch (err) {
    // A store this account may only read (an export, a server on a snapshot) is still read.
    if (!hasCode(err, 'EACCES', 'EPERM', 'EROFS')) throw err;
    log.warn('cannot take over the ingest lock a stopped ingestion left; reading without repairing', {
      dataDir: options.dataDir,
      reason: (err as Error).message,
    });
  }
  return store;
}

/**
 * What brings a day entry level with its ledger month: hours it holds that the ledger has no
 * record of go; hours the ledger holds as failed (and not as keeping other keys' figures) become
 * `"failed"` again. Null when it is level already.
 */
function dayLevelWithLedger(entry: DayEntry, recorded: ReadonlyMap<number, LedgerHour>): DayChange | null {
  const replace: string[] = [];
  const markFailed: string[] = [];
  for (const [label, hour] of Object.entries(entry.hours)) {
    const record = recorded.get(Date.parse(`${entry.date}T${label}:00Z`));
    if (record === undefined) replace.push(label);
    else if (record.status === 'failed' && !record.keepsFigures && hour !== FAILED) markFailed.push(label);
  }
  return replace.length === 0 && markFailed.length === 0 ? null : { replace, markFailed };
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

/** The CorruptFileError reading `text` as `file` gives, if any. */
function problemReading(file: UsageFile, text: string, path: string): CorruptFileError | undefined {
  try {
    if (file.kind === 'day') parseDayFile(text, path, file.level, file.key, file.date);
    else if (file.kind === 'month') parseMonthFile(text, path, file.level, file.key, file.month);
    else parseYearFile(text, path, file.level, file.key, file.year);
    return undefined;
  } catch (err) {
    if (err instanceof CorruptFileError) return err;
    throw err;
  }
}
