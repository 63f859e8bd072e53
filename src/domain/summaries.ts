import { FIGURE_FIELDS, type Figures, zeroFigures } from './figures';
import { DAY_MS, HOUR_MS, periodStart } from './time';
import type { DayEntry, LedgerHour } from './usage';

/**
 * One user's usage of one UTC day (contract section 11), in SlipStream's shape (seed 003: VM,
 * RAM and disk unit-minutes, minutes per instance type) beside the day's figures. Stored as the
 * figures; the minutes are worked out of them when read, so they can never disagree.
 */
export interface DailySummaryRecord {
  user: string;
  /** `YYYY-MM-DD`, UTC. */
  date: string;
  /** The sum of the day's ok hours of the user's USER series. */
  figures: Figures;
  /** Up hours by machine type, as the MACHINE level names it; sorted by name. */
  byMachine: Array<{ machineName: string; upHours: number }>;
  okHours: number;
  failedHours: number;
  /** Every hour of the day ok in the ledger. */
  complete: boolean;
}

export const HOURS_PER_DAY = 24;
/** Contract section 8: GB = 10^9 bytes. */
const BYTES_PER_GB = 1e9;
const MINUTES_PER_HOUR = 60;

/** SlipStream's unit-minutes, from the figures: up hours and byte-hours integrals times 60. */
export function summaryMinutes(figures: Figures): {
  vmMinutes: number;
  ramGbMinutes: number;
  diskGbMinutes: number;
} {
  return {
    vmMinutes: figures.upHours * MINUTES_PER_HOUR,
    ramGbMinutes: (figures.memoryByteHours / BYTES_PER_GB) * MINUTES_PER_HOUR,
    diskGbMinutes: (figures.diskByteHours / BYTES_PER_GB) * MINUTES_PER_HOUR,
  };
}

export function machineMinutes(upHours: number): number {
  return upHours * MINUTES_PER_HOUR;
}

/** How many of the day's hours the ledger holds ok and failed. */
export function countDayHours(
  date: string,
  ledger: ReadonlyMap<number, LedgerHour>,
): { okHours: number; failedHours: number } {
  const start = periodStart(date);
  let okHours = 0;
  let failedHours = 0;
  for (let hour = start; hour < start + DAY_MS; hour += HOUR_MS) {
    const status = ledger.get(hour)?.status;
    if (status === 'ok') okHours++;
    else if (status === 'failed') failedHours++;
  }
  return { okHours, failedHours };
}

/**
 * The summary of one user's day entry: its totals (which count only the hours that did not fail),
 * its machine types by the names `machineNames` gives their keys, and the ledger's verdict.
 */
export function summariseDay(
  entry: DayEntry,
  hours: { okHours: number; failedHours: number },
  machineNames: ReadonlyMap<string, string>,
): DailySummaryRecord {
  const byMachine = Object.entries(entry.totals.byMachine)
    .map(([key, figures]) => ({ machineName: machineNames.get(key) ?? key, upHours: figures.upHours }))
    .sort((a, b) => compareText(a.machineName, b.machineName));
  return {
    user: entry.key,
    date: entry.date,
    figures: { ...zeroFigures(), ...pickFigures(entry.totals.all) },
    byMachine,
    okHours: hours.okHours,
    failedHours: hours.failedHours,
    complete: hours.okHours === HOURS_PER_DAY,
  };
}

/** Only the catalogue's figures, each a number (an older record may lack a newer figure: 0). */
export function pickFigures(raw: Partial<Record<string, unknown>>): Figures {
  const figures = zeroFigures();
  for (const field of FIGURE_FIELDS) {
    const value = raw[field];
    if (typeof value === 'number') figures[field] = value;
  }
  return figures;
}

function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
