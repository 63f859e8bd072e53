import { addBreakdownInto, addInto, type Breakdown } from '../domain/figures';
import type { Level } from '../domain/levels';
import { DAY_MS, HOUR_MS, hourLabel } from '../domain/time';
import { type DayEntry, FAILED, type MonthRollup, type YearRollup } from '../domain/usage';
import type { FilesToRead, ReadPiece } from './read-plan';
import type { UsageReader } from './usage-reader';

/** The stored files of one level and key that a plan needs, by period; null where none is stored. */
export interface StoredFiles {
  years: Map<string, YearRollup | null>;
  months: Map<string, MonthRollup | null>;
  days: Map<string, DayEntry | null>;
}

/**
 * Issues every load before awaiting any, so the reader's loaders batch it with concurrent reads.
 * With `byMachine` false the day entries may hold their `all` figures alone.
 */
export async function loadStoredFiles(
  reader: UsageReader,
  level: Level,
  key: string,
  files: FilesToRead,
  byMachine = true,
): Promise<StoredFiles> {
  const [years, months, days] = await Promise.all([
    loadEach(files.years, (year) => reader.year(level, year, key)),
    loadEach(files.months, (month) => reader.month(level, month, key)),
    loadEach(files.days, (date) => reader.day(level, date, key, byMachine)),
  ]);
  return { years, months, days };
}

export async function loadEach<T>(periods: readonly string[], load: (period: string) => Promise<T>) {
  const values = await Promise.all(periods.map(load));
  return new Map(periods.map((period, i) => [period, values[i]]));
}

/**
 * Adds a piece's stored figures into `sum`. Stored figures exist only for ok hours (failed hours
 * hold markers, and roll-ups count only the hours that did not fail), so this is the sum over the
 * piece's ok hours. With `byMachine` false only `sum.all` is added to.
 */
export function addStoredFigures(
  sum: Breakdown,
  piece: ReadPiece,
  stored: StoredFiles,
  byMachine = true,
): void {
  const addIfStored = byMachine ? addBreakdownIfStored : addAllIfStored;
  switch (piece.kind) {
    case 'year':
      return addIfStored(sum, stored.years.get(piece.period)?.totals);
    case 'month':
      return addIfStored(sum, stored.years.get(piece.period.slice(0, 4))?.months[piece.period]);
    case 'day':
      return addIfStored(sum, stored.months.get(piece.period.slice(0, 7))?.days[piece.period]);
    case 'hours': {
      const entry = stored.days.get(piece.period);
      if (!entry) return;
      const dayStart = piece.start - (piece.start % DAY_MS);
      for (let hour = piece.start; hour < piece.end; hour += HOUR_MS) {
        const figures = entry.hours[HOUR_LABELS[(hour - dayStart) / HOUR_MS]];
        if (figures !== FAILED) addIfStored(sum, figures);
      }
    }
  }
}

/** `00:00` … `23:00`, by hour of the day: formatting a label per hour shows up in profiles. */
const HOUR_LABELS = Array.from({ length: 24 }, (_, hour) => hourLabel(hour * HOUR_MS));

function addBreakdownIfStored(sum: Breakdown, figures: Breakdown | undefined): void {
  if (figures) addBreakdownInto(sum, figures);
}

/** Only `all`: when nobody asked for the machines, summing them is most of the work per bucket. */
function addAllIfStored(sum: Breakdown, figures: Breakdown | undefined): void {
  if (figures) addInto(sum.all, figures.all);
}
