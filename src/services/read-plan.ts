import { bucketStart, DAY_MS, nextBucketStart, utcDate, utcMonth, utcYear } from '../domain/time';

/**
 * One stretch of whole hours and the cheapest stored form that holds its figures:
 * - `year`: a whole UTC year, the year roll-up's `totals` (`period` = `YYYY`);
 * - `month`: a whole UTC month, the year roll-up's `months[period]` (`YYYY-MM`). The year file is
 *   preferred over the month file because one read serves up to twelve months and the file is smaller;
 * - `day`: a whole UTC day, the month roll-up's `days[period]` (`YYYY-MM-DD`);
 * - `hours`: part of a day, that day entry's hours in [start, end) (`period` = `YYYY-MM-DD`).
 */
export interface ReadPiece {
  kind: 'year' | 'month' | 'day' | 'hours';
  period: string;
  start: number;
  end: number;
}

/**
 * Splits [from, to) (whole hours, from < to) into pieces, largest first from the left: stored totals
 * already exclude failed hours, so a piece's figures are exactly the sum over its ok hours.
 */
export function planReads(from: number, to: number): ReadPiece[] {
  const pieces: ReadPiece[] = [];
  for (let start = from; start < to;) {
    const piece = largestPieceAt(start, to);
    pieces.push(piece);
    start = piece.end;
  }
  return pieces;
}

function largestPieceAt(start: number, to: number): ReadPiece {
  // Plain arithmetic first: hourly series plan thousands of pieces, and most are part of a day.
  const dayStart = start - (((start % DAY_MS) + DAY_MS) % DAY_MS);
  const dayEnd = dayStart + DAY_MS;
  if (dayStart !== start || dayEnd > to) {
    return { kind: 'hours', period: dateOfDay(dayStart), start, end: Math.min(dayEnd, to) };
  }
  const yearEnd = nextBucketStart('YEAR', start);
  if (bucketStart('YEAR', start) === start && yearEnd <= to) {
    return { kind: 'year', period: utcYear(start), start, end: yearEnd };
  }
  const monthEnd = nextBucketStart('MONTH', start);
  if (bucketStart('MONTH', start) === start && monthEnd <= to) {
    return { kind: 'month', period: utcMonth(start), start, end: monthEnd };
  }
  return { kind: 'day', period: utcDate(start), start, end: dayEnd };
}

// Consecutive hourly pieces share their day: remember the last day's name rather than format it 24 times.
let lastDayStart = Number.NaN;
let lastDate = '';
function dateOfDay(dayStart: number): string {
  if (dayStart !== lastDayStart) [lastDayStart, lastDate] = [dayStart, utcDate(dayStart)];
  return lastDate;
}

/** The stored files a set of pieces needs, each named once. */
export interface FilesToRead {
  /** `YYYY`: year roll-ups, for `year` and `month` pieces. */
  years: string[];
  /** `YYYY-MM`: month roll-ups, for `day` pieces. */
  months: string[];
  /** `YYYY-MM-DD`: day entries, for `hours` pieces. */
  days: string[];
}

export function filesToRead(pieces: Iterable<ReadPiece>): FilesToRead {
  const years = new Set<string>();
  const months = new Set<string>();
  const days = new Set<string>();
  for (const piece of pieces) {
    if (piece.kind === 'year' || piece.kind === 'month') years.add(piece.period.slice(0, 4));
    else if (piece.kind === 'day') months.add(piece.period.slice(0, 7));
    else days.add(piece.period);
  }
  return { years: [...years], months: [...months], days: [...days] };
}
