import { existsSync } from 'node:fs';
import { join, relative } from 'node:path';
import { LEVELS, type Level } from '../../domain/levels';
import { FAILED, type DayEntry, type LedgerHour } from '../../domain/usage';
import {
  listNames,
  mapLimit,
  putFile,
  readTextIfExists,
  removeStaleTemporaries,
  writeFileAtomic,
} from '../../fs/files';
import type { Logger } from '../../log';
import { mergeDay, monthRollup, yearRollup, type DayChange } from '../rules/merge';
import { withVisibleTotals } from '../rules/visible';
import { dayFileText, type MonthRef } from './codec';
import { parseDayFile } from './file-parse';
import { CorruptFileError } from './errors';
import type { Journal } from './journal';
import type { JsonLayout } from './layout';
import { readLedgerMonths } from './ledger-file';
import { moveAside, type QuarantineLayout } from './quarantine';
import { readStoreText } from './read';
import { CONCURRENCY, distinct, groupBy, yearOf, type YearRef } from './refs';
import type { RollupFiles } from './rollup-files';
import type { StoreVersion } from './version';

type LedgerOfRepair = Map<string, Promise<ReadonlyMap<number, LedgerHour> | null>>;

/**
 * The writer's repair of what a writer stopped part-way left: roll-ups of the months the journal
 * names rebuilt from their days (every month, when the journal itself is damaged), days brought
 * level with the ledger, and the temporary files a killed writer left removed. Only a writer runs
 * it: readers see the same through the ledger and the journal without writing anything.
 */
export class JournalRepair {
  private readonly layout: JsonLayout;

  constructor(
    private readonly files: RollupFiles,
    private readonly journal: Journal,
    private readonly quarantine: QuarantineLayout,
    private readonly version: StoreVersion,
    private readonly listKeys: (level: Level) => Promise<string[]>,
    private readonly log: Logger,
  ) {
    this.layout = files.layout;
  }

  /**
   * Temporaries are swept in the data directory (the journal's), the directories beside usage/
   * (the indexes', and those of what else the store keeps), the ledger's, and the directories of
   * the months the journal names: the only places within usage/ a batch writes while its journal
   * exists.
   */
  async repair(): Promise<void> {
    // The journal of this handle's own deferred roll-ups: the months it names are settled in turn.
    if (this.journal.trusted) return;
    const ledgerYears = await listNames(this.layout.ledgerDir, 'directory');
    const beside = (await listNames(this.layout.dataDir, 'directory')).filter(
      (name) => name !== 'usage' && name !== 'quarantine',
    );
    let stale = await this.sweep([
      this.layout.dataDir,
      ...beside.map((name) => join(this.layout.dataDir, name)),
      ...ledgerYears.map((year) => join(this.layout.ledgerDir, year)),
    ]);
    const months = await this.journaledMonths();
    if (months === null) {
      if (stale > 0) this.log.warn('removed temporary files a killed writer left', { files: stale });
      return;
    }
    stale += await this.sweep(
      months.flatMap(({ level, key, month }) => [
        this.layout.yearDir(level, key, month.slice(0, 4)),
        this.layout.keyDir(level, key),
      ]),
    );
    this.log.warn('an earlier batch stopped part-way; rebuilding its roll-ups from the day entries', {
      months: months.length,
      temporaryFilesRemoved: stale,
    });
    const repair = { at: new Date(), ledger: new Map() };
    await mapLimit(months, CONCURRENCY, (ref) => this.rebuildMonth(ref, repair));
    const years = groupBy(months, (ref) => yearOf(ref, ref.month)).map(([year]) => year);
    await mapLimit(years, CONCURRENCY, (ref) => this.rebuildYear(ref));
    await this.files.removeEmptyDirs(years);
    this.version.markChanged();
    await this.version.bump();
    await this.journal.remove();
  }

  /**
   * The month roll-ups of `months` whose ledger file is gone while the roll-ups remain: their
   * figures have no record, so none count (readers see none), and a batch is about to record the
   * month anew. See `rebuild`.
   */
  async lostLedgerMonths(months: readonly string[]): Promise<MonthRef[]> {
    const lost: MonthRef[] = [];
    for (const month of new Set(months)) {
      if (existsSync(this.layout.ledgerFile(month))) continue;
      for (const level of LEVELS) {
        for (const key of await this.listKeys(level)) {
          if (existsSync(this.layout.monthFile(level, key, month))) lost.push({ level, key, month });
        }
      }
    }
    return lost;
  }

  /**
   * Rebuilds `months` from their days, whose hours the ledger has no record of go (kept under
   * quarantine/), so the other days of a month that lost its ledger do not count again once a batch
   * records it anew. The caller has forgotten what it had pending: the journal is rewritten here.
   */
  async rebuild(months: readonly MonthRef[]): Promise<void> {
    this.log.error('a ledger month is missing; its stored figures no longer count until ingested again', {
      months: [...new Set(months.map((ref) => ref.month))],
    });
    await this.journal.write(distinct([...((await this.journal.read()) ?? []), ...months]));
    await this.repair();
  }

  private async sweep(dirs: readonly string[]): Promise<number> {
    const removed = await mapLimit([...new Set(dirs)], CONCURRENCY, (dir) => removeStaleTemporaries(dir));
    return removed.reduce((a, b) => a + b, 0);
  }

  /**
   * The months the journal names; null when there is none. A damaged journal cannot say which
   * months are behind: it is kept under quarantine/ and replaced by one naming every month.
   */
  private async journaledMonths(): Promise<MonthRef[] | null> {
    try {
      return await this.journal.read();
    } catch (err) {
      if (!(err instanceof CorruptFileError)) throw err;
      const every = (
        await mapLimit(LEVELS, 1, async (level) => this.files.everyMonth(level, await this.listKeys(level)))
      ).flat();
      const keptAt = this.quarantine.destination(this.journal.path, new Date());
      const text = await readTextIfExists(this.journal.path).catch(() => null);
      // Kept first, then replaced in one rename: a crash between leaves a journal either way.
      if (text === null) await moveAside(this.journal.path, keptAt);
      else await writeFileAtomic(keptAt, text);
      await this.journal.write(every);
      this.log.error('the journal was damaged; rebuilding every roll-up from the day entries', {
        path: this.journal.path,
        keptAt: relative(this.layout.dataDir, keptAt),
        reason: err.message,
        months: every.length,
      });
      return every;
    }
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
  private async rebuildMonth(ref: MonthRef, repair: { at: Date; ledger: LedgerOfRepair }): Promise<void> {
    const { level, key, month } = ref;
    const dates = await this.files.datesOf(ref);
    let ledger = repair.ledger.get(month);
    if (ledger === undefined) repair.ledger.set(month, (ledger = this.ledgerForRepair(month)));
    const recorded = await ledger;
    const days = await mapLimit(dates, CONCURRENCY, (date) => this.levelDay(ref, date, recorded, repair.at));
    const before = await readStoreText(this.layout.monthFile(level, key, month));
    await this.files.putMonth(ref, before, monthRollup(level, key, month, Object.fromEntries(days.flat())));
  }

  /** One day entry brought level with the ledger (see `rebuildMonth`): its date and totals, if any. */
  private async levelDay(
    { level, key }: MonthRef,
    date: string,
    recorded: ReadonlyMap<number, LedgerHour> | null,
    at: Date,
  ) {
    const path = this.layout.dayFile(level, key, date);
    const text = await readStoreText(path);
    if (text === null) throw new Error(`Day entry ${path} vanished while its month was being rebuilt`);
    const entry = parseDayFile(text, path, level, key, date);
    const change = recorded === null ? null : dayLevelWithLedger(entry, recorded);
    const seen = (day: DayEntry) =>
      recorded === null ? day : withVisibleTotals(day, (hour) => recorded.get(hour));
    if (change === null) {
      const counted = seen(entry);
      // Hours a repair failed keep their figures for a failed retry, but no longer count.
      if (counted !== entry) await putFile(path, dayFileText(counted));
      return [[date, counted.totals] as const];
    }
    const kept = mergeDay({ level, key, date }, entry, null, change);
    const keptAt = this.quarantine.destination(path, at);
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
  }

  /** The ledger month for a repair; null, logged, when it cannot be read (the repair goes on). */
  private async ledgerForRepair(month: string): Promise<ReadonlyMap<number, LedgerHour> | null> {
    try {
      return (await readLedgerMonths(this.layout, [month])).get(month)!.hours;
    } catch (err) {
      if (!(err instanceof CorruptFileError)) throw err;
      this.log.error('ledger month unreadable; rolling its days up as they are', {
        path: err.path,
        reason: err.message,
      });
      return null;
    }
  }

  private async rebuildYear(ref: YearRef): Promise<void> {
    const { level, key, year } = ref;
    const months = await this.files.monthsOf(ref);
    const rollups = await mapLimit(months, CONCURRENCY, (month) =>
      this.files.readMonth({ level, key, month }),
    );
    const monthTotals = Object.fromEntries(
      rollups.flatMap((read) => (read === null ? [] : [[read.rollup.month, read.rollup.totals] as const])),
    );
    const before = await readStoreText(this.layout.yearFile(level, key, year));
    await this.files.putYear(ref, before, yearRollup(level, key, year, monthTotals));
  }
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
