import type { Breakdown } from '../../domain/figures';
import type { Level } from '../../domain/levels';
import { mapLimit, putFiles, syncDirs } from '../../fs/files';
import { monthRollup, withUpdates, yearRollup } from '../rules/merge';
import { monthFileText, yearFileText, type MonthRef } from './codec';
import type { Journal } from './journal';
import { readStoreTextIfPresent } from './read';
import { CONCURRENCY, groupBy, monthId, monthOf, yearOf, type YearRef } from './refs';
import type { RollupFiles } from './rollup-files';
import type { StoreVersion } from './version';

/** Month or year roll-ups rendered before writing them (their texts are held meanwhile). */
const ROLLUP_SLICE = 64;

/** A day a batch touched, once written: its month's roll-up is brought level with it. */
export interface DayChanged {
  level: Level;
  key: string;
  date: string;
  /** The day entry went. */
  gone: boolean;
}

/** A month whose days changed since it was settled. */
interface PendingMonth {
  ref: MonthRef;
  dates: Set<string>;
  lostDay: boolean;
}

interface MonthUpdate {
  ref: MonthRef;
  changed: boolean;
  /** Null when the month has no day left. */
  totals: Breakdown | null;
}

interface Write {
  path: string;
  text: string | null;
}

/**
 * Brings month and year roll-ups level with the days a writer's batches changed. Each month is
 * settled once the batches have moved past it, or when the writer is released, rather than after
 * every batch: rewriting each month and year once per batch of a backfill would cost more than the
 * days. The journal names the pending months meanwhile, so readers roll them up from their days.
 * Only which days changed is held; their totals are read back from the day files when the month
 * settles (holding a month of a thousand instances' totals took some 30 MB by its end).
 */
export class RollupSettler {
  private readonly pending = new Map<string, PendingMonth>();

  constructor(
    private readonly files: RollupFiles,
    private readonly journal: Journal,
    private readonly version: StoreVersion,
  ) {}

  get hasPending(): boolean {
    return this.pending.size > 0;
  }

  /** Notes the days as changed until their months are settled. */
  record(days: readonly DayChanged[]): void {
    for (const day of days) {
      const ref = monthOf(day, day.date);
      const id = monthId(ref);
      const month = this.pending.get(id) ?? { ref, dates: new Set<string>(), lostDay: false };
      this.pending.set(id, month);
      month.dates.add(day.date);
      month.lostDay ||= day.gone;
    }
  }

  /** What is pending may no longer be what the disk holds; the journal names it all. */
  forget(): void {
    this.pending.clear();
    this.journal.forget();
  }

  /**
   * Writes the journal before a batch's first day changes, naming the batch's months and every
   * pending one, unless it already names them all. A month settled since it was written may stay
   * named: a repair rebuilds it to the text it has.
   */
  async coverJournal(months: readonly MonthRef[]): Promise<void> {
    const named = new Map<string, MonthRef>();
    for (const { ref } of this.pending.values()) named.set(monthId(ref), ref);
    for (const ref of months) named.set(monthId(ref), ref);
    await this.journal.cover(named);
  }

  /** The version moves before the journal goes: a reader never sees new contents under an old one. */
  async removeJournalOnceSettled(): Promise<void> {
    await this.version.bump();
    if (this.pending.size > 0 || !this.journal.trusted) return;
    await this.journal.remove();
  }

  /** Brings the roll-ups of the pending months that are due level with their days. */
  async settle(isDue: (ref: MonthRef) => boolean): Promise<void> {
    // A month that lost a day is settled at once: its key may have gone, and must not stay listed.
    const due = [...this.pending].filter(([, { ref, lostDay }]) => isDue(ref) || lostDay);
    if (due.length === 0) return;
    const dirs = new Set<string>();
    const monthUpdates = await this.updateRollups(
      dirs,
      due.map(([, { ref, dates }]) => [ref, [...dates]] as const),
      (ref, dates) => this.updatedMonth(ref, dates),
    );
    // A month whose file did not change has the totals its year already holds.
    const changedMonths = monthUpdates.filter((update) => update.changed);
    if (changedMonths.length > 0) this.version.markChanged();
    const years = groupBy(changedMonths, ({ ref }) => yearOf(ref, ref.month));
    await this.updateRollups(dirs, years, (ref, updates) =>
      this.updatedYear(ref, new Map(updates.map(({ ref: { month }, totals }) => [month, totals]))),
    );
    await syncDirs(dirs, CONCURRENCY);
    for (const [id] of due) this.pending.delete(id);
    const emptied = monthUpdates.filter((update) => update.totals === null);
    await this.files.removeEmptyDirs(
      groupBy(emptied, ({ ref }) => yearOf(ref, ref.month)).map(([year]) => year),
    );
  }

  /**
   * Roll-ups a slice at a time: each slice's files are read and their new texts rendered, then the
   * changed ones written together (putFiles), so only a slice's texts are held.
   */
  private async updateRollups<R, W, U extends { changed: boolean }>(
    dirs: Set<string>,
    groups: ReadonlyArray<readonly [R, readonly W[]]>,
    update: (ref: R, items: readonly W[]) => Promise<{ update: U; write: Write }>,
  ): Promise<U[]> {
    const updates: U[] = [];
    for (let start = 0; start < groups.length; start += ROLLUP_SLICE) {
      const planned = await mapLimit(groups.slice(start, start + ROLLUP_SLICE), CONCURRENCY, ([ref, items]) =>
        update(ref, items),
      );
      const writes = planned.filter((p) => p.update.changed).map((p) => p.write);
      // A batch that changed no day may still bring a month level: the journal covers it first.
      if (writes.length > 0) await this.coverJournal([]);
      await putFiles(writes, CONCURRENCY, dirs);
      updates.push(...planned.map((p) => p.update));
    }
    return updates;
  }

  private async updatedMonth(
    ref: MonthRef,
    dates: readonly string[],
  ): Promise<{ update: MonthUpdate; write: Write }> {
    const before = await this.files.readMonth(ref, readStoreTextIfPresent);
    const dayTotals = new Map<string, Breakdown | null>();
    for (const date of dates) {
      dayTotals.set(date, await this.files.readDayTotals(ref, date, readStoreTextIfPresent));
    }
    const days = withUpdates(before?.rollup.days ?? {}, dayTotals);
    const after = monthRollup(ref.level, ref.key, ref.month, days);
    const text = after === null ? null : monthFileText(after);
    return {
      update: { ref, changed: text !== (before?.text ?? null), totals: after?.totals ?? null },
      write: { path: this.files.layout.monthFile(ref.level, ref.key, ref.month), text },
    };
  }

  private async updatedYear(
    ref: YearRef,
    monthTotals: ReadonlyMap<string, Breakdown | null>,
  ): Promise<{ update: { changed: boolean }; write: Write }> {
    const before = await this.files.readYear(ref, readStoreTextIfPresent);
    const months = withUpdates(before?.rollup.months ?? {}, monthTotals);
    const after = yearRollup(ref.level, ref.key, ref.year, months);
    const text = after === null ? null : yearFileText(after);
    return {
      update: { changed: text !== (before?.text ?? null) },
      write: { path: this.files.layout.yearFile(ref.level, ref.key, ref.year), text },
    };
  }
}
