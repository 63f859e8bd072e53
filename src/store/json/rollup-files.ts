import type { Breakdown } from '../../domain/figures';
import type { Level } from '../../domain/levels';
import type { MonthRollup, YearRollup } from '../../domain/usage';
import { listNames, mapLimit, putFile, removeDirIfEmpty } from '../../fs/files';
import { monthFileText, yearFileText, type MonthRef } from './codec';
import { parseDayTotals, parseMonthFile, parseYearFile } from './file-parse';
import { DAY_FILE, MONTH_FILE, type JsonLayout } from './layout';
import { readStoreText } from './read';
import { CONCURRENCY, type YearRef } from './refs';

type ReadText = (path: string) => Promise<string | null>;

/** Month and year roll-up files of a JSON store, as the writer reads and replaces them. */
export class RollupFiles {
  constructor(readonly layout: JsonLayout) {}

  async readMonth(
    ref: MonthRef,
    read: ReadText = readStoreText,
  ): Promise<{ rollup: MonthRollup; text: string } | null> {
    const path = this.layout.monthFile(ref.level, ref.key, ref.month);
    const text = await read(path);
    return text === null ? null : { rollup: parseMonthFile(text, path, ref.level, ref.key, ref.month), text };
  }

  /** The totals of a key's day entry as written; null when it has none that day. */
  async readDayTotals(
    ref: MonthRef,
    date: string,
    read: ReadText = readStoreText,
  ): Promise<Breakdown | null> {
    const path = this.layout.dayFile(ref.level, ref.key, date);
    const text = await read(path);
    return text === null ? null : parseDayTotals(text, path);
  }

  async readYear(
    ref: YearRef,
    read: ReadText = readStoreText,
  ): Promise<{ rollup: YearRollup; text: string } | null> {
    const path = this.layout.yearFile(ref.level, ref.key, ref.year);
    const text = await read(path);
    return text === null ? null : { rollup: parseYearFile(text, path, ref.level, ref.key, ref.year), text };
  }

  /** Writes the month when its text changes (removes it when null); true when it did. */
  async putMonth(ref: MonthRef, before: string | null, after: MonthRollup | null): Promise<boolean> {
    const text = after === null ? null : monthFileText(after);
    if (text === before) return false;
    await putFile(this.layout.monthFile(ref.level, ref.key, ref.month), text);
    return true;
  }

  async putYear(ref: YearRef, before: string | null, after: YearRollup | null): Promise<void> {
    const text = after === null ? null : yearFileText(after);
    if (text !== before) await putFile(this.layout.yearFile(ref.level, ref.key, ref.year), text);
  }

  /** The dates of `month` the key has day entries for. */
  async datesOf({ level, key, month }: MonthRef): Promise<string[]> {
    const names = await listNames(this.layout.yearDir(level, key, month.slice(0, 4)), 'file');
    return names
      .flatMap((name) => DAY_FILE.exec(name)?.slice(1, 2) ?? [])
      .filter((date) => date.startsWith(`${month}-`));
  }

  /** The months of `year` the key has a roll-up or a day entry for (a month file may be missing). */
  async monthsOf({ level, key, year }: YearRef): Promise<string[]> {
    const names = await listNames(this.layout.yearDir(level, key, year), 'file');
    const months = names.flatMap(
      (name) => MONTH_FILE.exec(name)?.slice(1, 2) ?? DAY_FILE.exec(name)?.[1].slice(0, 7) ?? [],
    );
    return [...new Set(months)].filter((month) => month.startsWith(`${year}-`)).sort();
  }

  /** Every month of every key at `level` that has a roll-up or a day entry. */
  async everyMonth(level: Level, keys: readonly string[]): Promise<MonthRef[]> {
    const perKey = await mapLimit(keys, CONCURRENCY, async (key) => {
      const years = await listNames(this.layout.keyDir(level, key), 'directory');
      const months = await mapLimit(years, CONCURRENCY, (year) => this.monthsOf({ level, key, year }));
      return months.flat().map((month) => ({ level, key, month }));
    });
    return perKey.flat();
  }

  /** A key whose last entry went leaves no directory behind, so it is no longer listed or known. */
  async removeEmptyDirs(years: readonly YearRef[]): Promise<void> {
    await mapLimit(years, CONCURRENCY, ({ level, key, year }) =>
      removeDirIfEmpty(this.layout.yearDir(level, key, year)),
    );
    const keyDirs = [...new Set(years.map(({ level, key }) => this.layout.keyDir(level, key)))];
    await mapLimit(keyDirs, CONCURRENCY, removeDirIfEmpty);
  }
}
