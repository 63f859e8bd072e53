import { existsSync } from 'node:fs';
import { relative } from 'node:path';
import { utcDate } from '../../domain/time';
import { LEVELS, type Level } from '../../domain/levels';
import { writeFileAtomic } from '../../fs/files';
import type { Logger } from '../../log';
import { type MonthRef } from './codec';
import { parseDayFile, parseMonthFile, parseYearFile } from './file-parse';
import type { DamageReporter } from './damage';
import { CorruptFileError } from './errors';
import type { Journal } from './journal';
import type { JsonLayout } from './layout';
import { ledgerFileText, parseLedgerFile } from './ledger-file';
import { moveAside, usageFileOf, type QuarantineLayout, type UsageFile } from './quarantine';
import { readStoreText } from './read';
import { distinct } from './refs';
import type { RollupFiles } from './rollup-files';

/**
 * The writer's handling of damaged usage files: each is moved aside, to
 * `quarantine/<time>/<its path>`, and worked around, whether a batch came across it or a reader
 * reported it (readers only report: they never move files, for they might move a good file a
 * writer had just put in the damaged one's place).
 */
export class Quarantiner {
  private readonly layout: JsonLayout;

  constructor(
    private readonly files: RollupFiles,
    private readonly quarantine: QuarantineLayout,
    private readonly journal: Journal,
    private readonly damage: DamageReporter,
    private readonly listKeys: (level: Level) => Promise<string[]>,
    private readonly log: Logger,
  ) {
    this.layout = files.layout;
  }

  /** Deals with the files readers reported; true when one was moved aside (its roll-ups to rebuild). */
  async takeSuspects(): Promise<boolean> {
    let moved = false;
    for (const path of this.damage.takeSuspects()) {
      const file = usageFileOf(this.layout.dataDir, path);
      if (file === undefined) continue;
      // Gone, or readable again (a batch rewrote it since): nothing to do.
      const problem = await problemReading(file, path);
      if (problem !== undefined && (await this.quarantineIfUsage(problem))) moved = true;
    }
    return moved;
  }

  /**
   * True when `err` is a CorruptFileError of a day entry or a roll-up, which is then moved aside;
   * false for anything else. A roll-up is rebuilt from what it rolls up. A day entry's ok hours
   * become failed in the ledger, marked so a failed attempt keeps the figures other keys hold for
   * them: they read as failed, not as zero, and the next ingestion of them (the reconcile, or
   * `carbonledger ingest` over the day) writes them again. The journal names the months to rebuild
   * before anything moves, so a crash part-way is finished by the next repair. The caller forgets
   * what is pending first: a pending day may be the one that goes.
   */
  async quarantineIfUsage(err: unknown): Promise<boolean> {
    if (!(err instanceof CorruptFileError)) return false;
    const file = usageFileOf(this.layout.dataDir, err.path);
    if (file === undefined) return false;
    const pending = await this.journal.read().catch((journalErr: unknown) => {
      if (journalErr instanceof CorruptFileError) return 'damaged' as const;
      throw journalErr;
    });
    // A damaged journal already has the repair rebuild every month.
    if (pending !== 'damaged') {
      const months = distinct([...(pending ?? []), ...(await this.monthsRollingUp(file))]);
      if (months.length > 0) await this.journal.write(months);
    }
    const to = this.quarantine.destination(err.path, new Date());
    const movedTo = relative(this.layout.dataDir, to);
    if (file.kind === 'day') await this.failHoursOf(file, `${err.reason}; moved to ${movedTo}`);
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
        for (const otherKey of await this.listKeys(other)) {
          if (existsSync(this.layout.dayFile(other, otherKey, file.date)))
            refs.push({ level: other, key: otherKey, month });
        }
      }
      return refs;
    }
    if (file.kind === 'month') return [{ level, key, month: file.month }];
    const months = await this.files.monthsOf({ level, key, year: file.year });
    return months.map((month) => ({ level, key, month }));
  }

  private async failHoursOf(file: UsageFile & { kind: 'day' }, what: string): Promise<void> {
    const month = file.date.slice(0, 7);
    const path = this.layout.ledgerFile(month);
    const text = await readStoreText(path);
    if (text === null) return;
    const hours = parseLedgerFile(text, path);
    const error =
      `the stored day entry of ${file.level} ${JSON.stringify(file.key)} could not be read (${what}); ` +
      `ingest ${file.date} again`;
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
}

/** The CorruptFileError reading `path` as `file` gives, if any (none when it is gone). */
async function problemReading(file: UsageFile, path: string): Promise<CorruptFileError | undefined> {
  try {
    const text = await readStoreText(path);
    if (text === null) return undefined;
    if (file.kind === 'day') parseDayFile(text, path, file.level, file.key, file.date);
    else if (file.kind === 'month') parseMonthFile(text, path, file.level, file.key, file.month);
    else parseYearFile(text, path, file.level, file.key, file.year);
    return undefined;
  } catch (err) {
    if (err instanceof CorruptFileError) return err;
    throw err;
  }
}
