import { existsSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { mkdir, readdir, rm } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { packBreakdown, unpackBreakdown, type Breakdown, type PackedBreakdown } from '../../domain/figures';
import { LEVELS, type Level } from '../../domain/levels';
import { utcDate, utcMonth } from '../../domain/time';
import type { IntensityCache } from '../../domain/intensity-cache';
import { usageKey } from '../../domain/usage-key';
import {
  FAILED,
  type DayEntry,
  type IngestBatch,
  type LedgerHour,
  type MonthRollup,
  type YearRollup,
} from '../../domain/usage';
import {
  acquireIngestLock,
  INGEST_LOCK_FILE,
  removeDeadWritersTemporaries,
  withIngestLockIfFree,
  type HeldIngestLock,
} from './lock';
import { fileIntensityCache } from './intensity-cache';
import { silentLogger, type Logger } from '../../log';
import {
  StoreLockedError,
  type ApplyOptions,
  type ApplyResult,
  type Store,
  type StoreWriter,
  type WriterOptions,
} from '../store';
import { planBatch, validateBatch } from '../rules/batch';
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
import { DAY_FILE, JsonLayout, MONTH_FILE, encodeKey } from './layout';
import { CorruptFileError } from './errors';
import { ledgerFileText, parseLedgerFile } from './ledger-file';
import { moveAside, QuarantineLayout, readSuspects, usageFileOf, type UsageFile } from './quarantine';
import { readStoreText, readStoreTextIfPresent } from './read';
import { readTextIfExists } from '../../fs/files';
import { JsonReader } from './reader';
import { DamageReporter } from './damage';
import { JsonInstanceIndex } from './instance-index';
import { newestOkHour } from '../instance-index';
import { mergeDay, monthRollup, withUpdates, yearRollup, type DayChange } from '../rules/merge';
import { visibleDay } from '../rules/visible';

/** Files read or written at once: enough to keep the disk busy, few enough for the fd limit. */
const CONCURRENCY = 32;
/** Damaged files one repair or batch moves aside before it gives up. */
const MAX_QUARANTINED = 100;
/** Month or year roll-ups a batch renders before writing them (their texts are held meanwhile). */
const ROLLUP_SLICE = 64;
/** Day entries a batch reads, renders and writes at a time (their texts are held meanwhile). */
const DAY_SLICE = 64;

interface YearRef {
  level: Level;
  key: string;
  year: string;
}

interface DayPlan {
  level: Level;
  key: string;
  date: string;
  /** The new file text, null when the day entry goes, undefined when its text stays. */
  text: string | null | undefined;
  /** What readers see of its totals (see `visibleDay`); null when the day goes. */
  totals: Breakdown | null;
}

interface DayCandidate {
  level: Level;
  key: string;
  date: string;
  change: DayChange;
}

/** A day a batch touched, once written: its month's roll-up is brought level with it. */
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
  private readonly reader: JsonReader;
  /**
   * Months whose days changed in this handle's writer's batches, with those days' new totals
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
  /** Something a reader sees changed since the version was last rewritten. */
  private unversioned = false;
  /** The writer lock while this handle holds it. */
  private lock: HeldIngestLock | undefined;
  readonly intensityCache: IntensityCache;

  constructor(
    dataDir: string,
    private readonly log: Logger,
  ) {
    this.layout = new JsonLayout(dataDir);
    this.instances = new JsonInstanceIndex(dataDir);
    this.quarantine = new QuarantineLayout(dataDir);
    this.reader = new JsonReader(this.layout, new DamageReporter(this.quarantine, log), log);
    this.intensityCache = fileIntensityCache(join(dataDir, 'carbon'), log);
  }

  /**
   * Batches of a writer defer each month's roll-ups until the batches have moved past the month,
   * or the writer is released: rewriting each month and year once per batch of a backfill would
   * cost more than the days. This handle's reads see them level meanwhile.
   */
  async openWriter(options: WriterOptions): Promise<StoreWriter> {
    if (this.lock !== undefined) throw new StoreLockedError(this.lock.file, this.lock.holder);
    const lock = await acquireIngestLock(this.layout.dataDir, this.log, options);
    this.lock = lock;
    let released = false;
    return {
      applyBatch: (batch, applyOptions = {}) => {
        if (released) return Promise.reject(new Error('this writer was released'));
        return this.serially(() => this.applyNow(batch, applyOptions));
      },
      release: async () => {
        if (released) return;
        released = true;
        try {
          await this.settleRollups();
        } finally {
          this.lock = undefined;
          await lock.release();
        }
      },
    };
  }

  storedKey(value: string): string {
    return usageKey(value);
  }

  /**
   * `version` holds a random token each commit rewrites; while `journal.json` exists a writer is
   * part-way (or was killed part-way), and what readers see may still change.
   */
  async version(): Promise<string | undefined> {
    if (existsSync(this.layout.journalFile)) return undefined;
    try {
      return (await readTextIfExists(this.layout.versionFile)) ?? 'initial';
    } catch {
      return undefined;
    }
  }

  private async bumpVersion(): Promise<void> {
    if (!this.unversioned) return;
    await writeFileAtomic(this.layout.versionFile, randomBytes(12).toString('hex'));
    this.unversioned = false;
  }

  /**
   * Also finishes, from the days, what a batch of this process that failed left to the journal:
   * the caller holds the ingest lock (it applied those batches), so the journal is its own.
   */
  private settleRollups(): Promise<void> {
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

  readLedger(fromHour: number, toHour: number): Promise<Map<number, LedgerHour>> {
    return this.reader.readLedger(fromHour, toHour);
  }

  readDays(level: Level, date: string, keys: readonly string[]): Promise<Array<DayEntry | null>> {
    return this.reader.readDays(level, date, keys);
  }

  /** This handle's own pending roll-ups are brought level first; another's are read from days. */
  async readMonths(level: Level, month: string, keys: readonly string[]): Promise<Array<MonthRollup | null>> {
    if (this.pending.size > 0) await this.serially(() => this.settlePending());
    return this.reader.readMonths(level, month, keys);
  }

  async readYears(level: Level, year: string, keys: readonly string[]): Promise<Array<YearRollup | null>> {
    if (this.pending.size > 0) await this.serially(() => this.settlePending());
    return this.reader.readYears(level, year, keys);
  }

  readInstanceProjects(): Promise<Map<string, ReadonlySet<string>>> {
    return this.reader.readInstanceProjects();
  }

  listKeys(level: Level): Promise<string[]> {
    return this.reader.listKeys(level);
  }

  async checkReadable(): Promise<void> {
    await mkdir(this.layout.dataDir, { recursive: true });
    await readdir(this.layout.dataDir);
  }

  async close(): Promise<void> {
    // Not the repair of a journal left behind: another process may hold the lock by now.
    await this.serially(() => this.settlePending());
    const lock = this.lock;
    this.lock = undefined;
    await lock?.release();
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
    this.unversioned = true;
    await this.bumpVersion();
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

  /**
   * The months whose roll-ups (and years) must be rebuilt once `file` is gone. A day entry's hours
   * become failed for every key, so every key's month holding that date is rebuilt.
   */
  private async monthsRollingUp(file: UsageFile): Promise<MonthRef[]> {
    const { level, key } = file;
    if (file.kind === 'day') {
      const month = file.date.slice(0, 7);
      const refs: MonthRef[] = [{ level, key, month }];
      for (const other of LEVELS) {
        for (const otherKey of await this.reader.listKeys(other)) {
          if (existsSync(this.layout.dayFile(other, otherKey, file.date)))
            refs.push({ level: other, key: otherKey, month });
        }
      }
      return refs;
    }
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
    // A key too long for a directory name is refused before anything is written.
    for (const entry of batch.entries) encodeKey(entry.key);
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
    const ledger = await this.readLedgerMonths(batch.outcomes.map((outcome) => utcMonth(outcome.hour)));
    const ledgerBefore = new Map([...ledger].map(([month, { hours }]) => [month, hours]));
    const plan = planBatch(batch.outcomes, ledgerBefore, batch.attemptedAt, options.replace === true);
    const candidates = await this.dayCandidates(batch.entries, plan.days);
    // Before the days: a crash then leaves the index knowing a project too many (a scoped token is
    // refused the instance), never one too few (it would see another project's usage).
    await this.mergeInstanceProjects(batch.instanceProjects ?? {});

    // Crash safety rests on this order: the journal names every month whose days are about to
    // change, and goes only once the roll-ups and the ledger agree with the days.
    const recordOf = (hour: number) => plan.ledger.get(utcMonth(hour))?.get(hour);
    for (const day of await this.writeDays(batch.entries, candidates, recordOf)) {
      const ref = monthOf(day, day.date);
      const id = monthId(ref);
      const month = this.pending.get(id) ?? { ref, days: new Map<string, PackedBreakdown | null>() };
      this.pending.set(id, month);
      month.days.set(day.date, day.totals === null ? null : packBreakdown(day.totals));
    }
    // Batches go forward in time: a month before the batch's last is one they have moved past.
    const lastHour = batch.outcomes.reduce((last, { hour }) => Math.max(last, hour), -Infinity);
    const lastMonth = Number.isFinite(lastHour) ? utcMonth(lastHour) : '';
    await this.settle((ref) => ref.month < lastMonth);
    const ledgerWrites = [...plan.ledger].flatMap(([month, hours]) => {
      const text = ledgerFileText(hours);
      return text === ledger.get(month)?.text ? [] : [{ path: this.layout.ledgerFile(month), text }];
    });
    if (ledgerWrites.length > 0) this.unversioned = true;
    await putFiles(ledgerWrites, CONCURRENCY);
    // After the days: the index is derived from them, and re-ingesting the hours brings it level.
    await this.instances.record(batch.instances ?? [], newestOkHour(batch));
    if ((batch.instances ?? []).length > 0) this.unversioned = true;
    await this.removeJournalOnceSettled();
    return { keptHours: plan.kept };
  }

  /** The version moves before the journal goes: a reader never sees new contents under an old one. */
  private async removeJournalOnceSettled(): Promise<void> {
    await this.bumpVersion();
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

  /**
   * A damaged index is left as it is and reported: rebuilt from the batches alone it would forget
   * projects an instance ran under, and a token scoped to the others would then see it. Readers
   * meanwhile know no instance, so scoped tokens see no INSTANCE series.
   */
  private async mergeInstanceProjects(batch: Readonly<Record<string, readonly string[]>>): Promise<void> {
    const path = this.layout.instanceProjectsFile;
    let known: Map<string, ReadonlySet<string>>;
    try {
      const text = await readStoreText(path);
      known = text === null ? new Map() : parseInstanceProjects(text, path);
    } catch (err) {
      if (!(err instanceof CorruptFileError)) throw err;
      this.log.error('the access index is damaged; not updated until an operator restores or removes it', {
        path,
        reason: err.message,
      });
      return;
    }
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
    if (!grew) return;
    this.unversioned = true;
    await writeFileAtomic(this.layout.instanceProjectsFile, instanceProjectsText(known));
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

  /**
   * A candidate day after the batch; null when it neither exists nor comes. A day whose text stays
   * is still planned: its month may not hold it (a day file put back by hand after a repair).
   */
  private async planDay(
    { level, key, date, change }: DayCandidate,
    incoming: ReadonlyMap<string, DayEntry>,
    recordOf: (hour: number) => LedgerHour | undefined,
  ): Promise<DayPlan | null> {
    const path = this.layout.dayFile(level, key, date);
    const before = await readStoreTextIfPresent(path);
    const existing = before === null ? null : parseDayFile(before, path, level, key, date);
    const incomingEntry = incoming.get(dayId(level, key, date)) ?? null;
    const merged = mergeDay({ level, key, date }, existing, incomingEntry, change);
    if (merged === null && before === null) return null;
    const after = merged === null ? null : withSeenTotals(merged, recordOf);
    const text = after === null ? null : dayFileText(after);
    return { level, key, date, text: text === before ? undefined : text, totals: after?.totals ?? null };
  }

  /**
   * Writes the candidate days whose text changes, durably, and returns them. Days are read,
   * rendered and written a slice at a time, so only a slice's texts are in memory. The journal goes
   * down before the first day changes (see `journalCovering`).
   */
  private async writeDays(
    entries: readonly DayEntry[],
    candidates: readonly DayCandidate[],
    recordOf: (hour: number) => LedgerHour | undefined,
  ): Promise<DayChanged[]> {
    const incoming = new Map(entries.map((entry) => [dayId(entry.level, entry.key, entry.date), entry]));
    const dirs = new Set<string>();
    const touched: DayChanged[] = [];
    let wrote = false;
    for (let start = 0; start < candidates.length; start += DAY_SLICE) {
      const slice = candidates.slice(start, start + DAY_SLICE);
      const planned = (
        await mapLimit(slice, CONCURRENCY, (candidate) => this.planDay(candidate, incoming, recordOf))
      ).filter((plan): plan is DayPlan => plan !== null);
      touched.push(...planned.map(({ level, key, date, totals }) => ({ level, key, date, totals })));
      const writes = planned.filter(
        (plan): plan is DayPlan & { text: string | null } => plan.text !== undefined,
      );
      if (writes.length === 0) continue;
      if (!wrote) await this.journalCovering(candidates);
      wrote = true;
      this.unversioned = true;
      await putFiles(
        writes.map(({ level, key, date, text }) => ({ path: this.layout.dayFile(level, key, date), text })),
        CONCURRENCY,
        dirs,
      );
    }
    // Before the ledger says the hours are in.
    await syncDirs(dirs, CONCURRENCY);
    return touched;
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
    if (changedMonths.length > 0) this.unversioned = true;
    const years = groupBy(changedMonths, ({ ref }) => yearOf(ref, ref.month));
    await this.updateRollups(dirs, years, (ref, updates) =>
      this.updatedYear(ref, new Map(updates.map(({ ref: { month }, totals }) => [month, totals]))),
    );
    await syncDirs(dirs, CONCURRENCY);
    for (const [id] of due) this.pending.delete(id);
    const emptied = monthUpdates.filter((update) => update.totals === null);
    await this.removeEmptyDirs(groupBy(emptied, ({ ref }) => yearOf(ref, ref.month)).map(([year]) => year));
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
      // A batch that changed no day may still bring a month level: the journal covers it first.
      if (planned.some((p) => p.update.changed)) await this.journalCovering([]);
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
      const seen = (day: DayEntry) =>
        recorded === null ? day : withSeenTotals(day, (hour) => recorded.get(hour));
      if (change === null) {
        const counted = seen(entry);
        // Hours a repair failed keep their figures for a failed retry, but no longer count.
        if (counted !== entry) await putFile(path, dayFileText(counted));
        return [[date, counted.totals] as const];
      }
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
      const counted = kept === null ? null : seen(kept);
      await putFile(path, counted === null ? null : dayFileText(counted));
      return counted === null ? [] : [[date, counted.totals] as const];
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

/**
 * `entry` with totals that count only the hours the ledger holds ok (see `visibleDay`): an hour
 * failed since a damaged entry was moved aside keeps its figures, for a failed retry not to lose
 * them, but no longer counts. The entry itself when its totals stay.
 */
function withSeenTotals(entry: DayEntry, recordOf: (hour: number) => LedgerHour | undefined): DayEntry {
  const seen = visibleDay(entry, recordOf);
  if (seen === entry || seen === null) return entry;
  return JSON.stringify(seen.totals) === JSON.stringify(entry.totals)
    ? entry
    : { ...entry, totals: seen.totals };
}
