/**
 * Literal usage fixtures for read-side tests, and a read-only in-memory Store over them that
 * counts its calls (so tests can assert how reads are batched).
 */
import {
  addBreakdownInto,
  addInto,
  type Breakdown,
  type Figures,
  zeroBreakdown,
  zeroFigures,
} from '../../src/domain/figures';
import type { Level } from '../../src/domain/levels';
import { utcMonth } from '../../src/domain/time';
import {
  type DayEntry,
  FAILED,
  type HourOutcome,
  type LedgerHour,
  type MonthRollup,
  type YearRollup,
} from '../../src/domain/usage';
import type { Store } from '../../src/store/store';

/** Epoch ms of an ISO instant. */
export const at = (iso: string): number => Date.parse(iso);

export function figures(partial: Partial<Figures> = {}): Figures {
  return { ...zeroFigures(), ...partial };
}

/** One hour's (or day's) usage: `all` is the sum of the machines given, keyed by machine key. */
export function usage(byMachine: Record<string, Partial<Figures>>): Breakdown {
  const breakdown = zeroBreakdown();
  for (const [machine, partial] of Object.entries(byMachine)) {
    breakdown.byMachine[machine] = figures(partial);
    addInto(breakdown.all, breakdown.byMachine[machine]);
  }
  return breakdown;
}

/** A day entry whose totals sum its hours that did not fail, as the store keeps them. */
export function dayEntry(
  level: Level,
  key: string,
  date: string,
  hours: Record<string, Breakdown | typeof FAILED>,
): DayEntry {
  const totals = zeroBreakdown();
  for (const hour of Object.values(hours)) if (hour !== FAILED) addBreakdownInto(totals, hour);
  return { level, key, date, hours, totals };
}

export function okHour(instanceHours: Record<string, number> = {}): LedgerHour {
  return { status: 'ok', intensity: { gPerKwh: 200, estimated: false, source: 'static' }, instanceHours };
}

export function failedHour(): LedgerHour {
  return {
    status: 'failed',
    attempts: 1,
    error: 'Prometheus timed out',
    lastAttemptAt: '2025-09-23T00:05:00.000Z',
  };
}

export function okOutcome(iso: string, instanceHours: Record<string, number> = {}): HourOutcome {
  return {
    hour: at(iso),
    status: 'ok',
    intensity: { gPerKwh: 200, estimated: false, source: 'static' },
    instanceHours,
  };
}

export function failedOutcome(iso: string): HourOutcome {
  return { hour: at(iso), status: 'failed', error: 'Prometheus timed out' };
}

export interface StoreCalls {
  readDays: Array<{ level: Level; date: string; keys: string[] }>;
  readMonths: Array<{ level: Level; month: string; keys: string[] }>;
  readYears: Array<{ level: Level; year: string; keys: string[] }>;
  /** The month (`YYYY-MM`) each ledger read started in. */
  readLedger: string[];
  listKeys: Level[];
}

export type CountingStore = Store & { calls: StoreCalls };

/**
 * A read-only Store over literal day entries and ledger records (keyed by ISO hour). Month and
 * year roll-ups are derived from the day entries, as the contract says they always equal them.
 */
export function memoryUsageStore(fixture: {
  entries: DayEntry[];
  ledger: Record<string, LedgerHour>;
}): CountingStore {
  const calls: StoreCalls = {
    readDays: [],
    readMonths: [],
    readYears: [],
    readLedger: [],
    listKeys: [],
  };
  const day = (level: Level, key: string, date: string) =>
    fixture.entries.find((e) => e.level === level && e.key === key && e.date === date) ?? null;

  const month = (level: Level, key: string, period: string): MonthRollup | null => {
    const entries = fixture.entries.filter(
      (e) => e.level === level && e.key === key && e.date.startsWith(period),
    );
    if (entries.length === 0) return null;
    const rollup: MonthRollup = { level, key, month: period, days: {}, totals: zeroBreakdown() };
    for (const entry of entries) {
      rollup.days[entry.date] = entry.totals;
      addBreakdownInto(rollup.totals, entry.totals);
    }
    return rollup;
  };

  const year = (level: Level, key: string, period: string): YearRollup | null => {
    const months = [...new Set(fixture.entries.map((e) => e.date.slice(0, 7)))].filter((m) =>
      m.startsWith(period),
    );
    const rollup: YearRollup = { level, key, year: period, months: {}, totals: zeroBreakdown() };
    for (const m of months.sort()) {
      const monthRollup = month(level, key, m);
      if (!monthRollup) continue;
      rollup.months[m] = monthRollup.totals;
      addBreakdownInto(rollup.totals, monthRollup.totals);
    }
    return Object.keys(rollup.months).length === 0 ? null : rollup;
  };

  return {
    calls,
    openWriter: () => Promise.reject(new Error('memoryUsageStore is read-only')),
    readLedger: async (from, to) => {
      calls.readLedger.push(utcMonth(from));
      return new Map(
        Object.entries(fixture.ledger)
          .filter(([iso]) => at(iso) >= from && at(iso) < to)
          .map(([iso, record]) => [at(iso), record]),
      );
    },
    version: async () => undefined,
    intensityCache: { get: async () => new Map(), put: async () => undefined },
    readDays: async (level, date, keys) => {
      calls.readDays.push({ level, date, keys: [...keys] });
      return keys.map((key) => day(level, key, date));
    },
    readMonths: async (level, period, keys) => {
      calls.readMonths.push({ level, month: period, keys: [...keys] });
      return keys.map((key) => month(level, key, period));
    },
    readYears: async (level, period, keys) => {
      calls.readYears.push({ level, year: period, keys: [...keys] });
      return keys.map((key) => year(level, key, period));
    },
    readInstanceProjects: async () => new Map(),
    instances: {
      record: () => Promise.reject(new Error('memoryUsageStore is read-only')),
      list: async () => ({ lives: [], throughHour: null }),
    },
    listKeys: async (level) => {
      calls.listKeys.push(level);
      return [...new Set(fixture.entries.filter((e) => e.level === level).map((e) => e.key))].sort();
    },
    checkReadable: async () => undefined,
    close: async () => undefined,
  };
}
