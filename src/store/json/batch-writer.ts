import { LEVELS, type Level } from '../../domain/levels';
import { utcMonth } from '../../domain/time';
import type { DayEntry, IngestBatch, LedgerHour } from '../../domain/usage';
import { mapLimit, putFiles, syncDirs } from '../../fs/files';
import type { ApplyOptions, ApplyResult } from '../store';
import { planBatch } from '../rules/batch';
import { mergeDay, type DayChange } from '../rules/merge';
import { withVisibleTotals } from '../rules/visible';
import { newestOkHour, replacedOkHours, withoutHours } from '../instance-index';
import type { AccessIndexFile } from './access-index';
import { dayFileText } from './codec';
import { parseDayFile } from './file-parse';
import type { JsonInstanceIndex } from './instance-index';
import type { JsonLayout } from './layout';
import { ledgerFileText, readLedgerMonths } from './ledger-file';
import { readStoreTextIfPresent } from './read';
import { CONCURRENCY, dayId, groupBy, monthOf } from './refs';
import type { DayChanged, RollupSettler } from './rollups';
import type { StoreVersion } from './version';

/** Day entries read, rendered and written at a time (their texts are held meanwhile). */
const DAY_SLICE = 64;

interface DayPlan extends DayChanged {
  /** The new file text, null when the day entry goes, undefined when its text stays. */
  text: string | null | undefined;
}

interface DayCandidate {
  level: Level;
  key: string;
  date: string;
  change: DayChange;
}

type RecordOf = (hour: number) => LedgerHour | undefined;

/** Writes one batch's days, ledger and indexes, in the order crash safety rests on. */
export class BatchWriter {
  constructor(
    private readonly layout: JsonLayout,
    private readonly settler: RollupSettler,
    private readonly version: StoreVersion,
    private readonly accessIndex: AccessIndexFile,
    private readonly instances: JsonInstanceIndex,
    private readonly listKeys: (level: Level) => Promise<string[]>,
  ) {}

  /** Rejects with CorruptFileError for a damaged file it reads, perhaps part-way (see JsonWriteSide). */
  async apply(batch: IngestBatch, options: ApplyOptions): Promise<ApplyResult> {
    const ledger = await readLedgerMonths(
      this.layout,
      batch.outcomes.map((outcome) => utcMonth(outcome.hour)),
    );
    const ledgerBefore = new Map([...ledger].map(([month, { hours }]) => [month, hours]));
    const plan = planBatch(batch.outcomes, ledgerBefore, batch.attemptedAt, options.replace === true);
    const candidates = await this.dayCandidates(batch.entries, plan.days);
    // Before the days: a crash then leaves the index knowing a project too many (a scoped token is
    // refused the instance), never one too few (it would see another project's usage).
    if (await this.accessIndex.merge(batch.instanceProjects ?? {})) this.version.markChanged();

    // Crash safety rests on this order: the journal names every month whose days are about to
    // change, and goes only once the roll-ups and the ledger agree with the days.
    const recordOf: RecordOf = (hour) => plan.ledger.get(utcMonth(hour))?.get(hour);
    this.settler.record(await this.writeDays(batch.entries, candidates, recordOf));
    // Batches go forward in time: a month before the batch's last is one they have moved past.
    const lastHour = batch.outcomes.reduce((last, { hour }) => Math.max(last, hour), -Infinity);
    const lastMonth = Number.isFinite(lastHour) ? utcMonth(lastHour) : '';
    await this.settler.settle((ref) => ref.month < lastMonth);
    const ledgerWrites = [...plan.ledger].flatMap(([month, hours]) => {
      const text = ledgerFileText(hours);
      return text === ledger.get(month)?.text ? [] : [{ path: this.layout.ledgerFile(month), text }];
    });
    if (ledgerWrites.length > 0) this.version.markChanged();
    await putFiles(ledgerWrites, CONCURRENCY);
    // After the days: the index is derived from them, and re-ingesting the hours brings it level.
    await this.instances.record(
      withoutHours(batch.instances ?? [], new Set(plan.kept.map((kept) => kept.hour))),
      newestOkHour(batch),
      replacedOkHours(batch, plan.kept),
    );
    if ((batch.instances ?? []).length > 0) this.version.markChanged();
    await this.settler.removeJournalOnceSettled();
    return { keptHours: plan.kept };
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
    recordOf: RecordOf,
  ): Promise<DayPlan | null> {
    const path = this.layout.dayFile(level, key, date);
    const before = await readStoreTextIfPresent(path);
    const existing = before === null ? null : parseDayFile(before, path, level, key, date);
    const merged = mergeDay(
      { level, key, date },
      existing,
      incoming.get(dayId(level, key, date)) ?? null,
      change,
    );
    if (merged === null && before === null) return null;
    const after = merged === null ? null : withVisibleTotals(merged, recordOf);
    const text = after === null ? null : dayFileText(after);
    return { level, key, date, text: text === before ? undefined : text, gone: after === null };
  }

  /**
   * Writes the candidate days whose text changes, durably, and returns every day planned. Days are
   * read, rendered and written a slice at a time, so only a slice's texts are in memory. The journal
   * goes down before the first day changes.
   */
  private async writeDays(
    entries: readonly DayEntry[],
    candidates: readonly DayCandidate[],
    recordOf: RecordOf,
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
      touched.push(...planned.map(({ level, key, date, gone }) => ({ level, key, date, gone })));
      const writes = planned.filter(
        (plan): plan is DayPlan & { text: string | null } => plan.text !== undefined,
      );
      if (writes.length === 0) continue;
      if (!wrote)
        await this.settler.coverJournal(groupBy(candidates, (c) => monthOf(c, c.date)).map(([ref]) => ref));
      wrote = true;
      this.version.markChanged();
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
}
