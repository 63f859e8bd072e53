import { zeroFigures, type Breakdown, type Figures } from '../../../src/domain/figures';
import { RESOURCE_NAMES } from '../../../src/domain/metrics';
import type { Level } from '../../../src/domain/levels';
import type { DayEntry, HourOutcome, IngestBatch, LedgerHour } from '../../../src/domain/usage';
import { nextBucketStart, periodStart } from '../../../src/domain/time';
import { withWriter, type ApplyOptions, type ApplyResult, type Store } from '../../../src/store/store';

/** Applies each batch in turn with the store's writer, then releases it. */
export async function apply(store: Pick<Store, 'openWriter'>, ...batches: IngestBatch[]): Promise<void> {
  await withWriter(store, { purpose: 'a test' }, async (writer) => {
    for (const each of batches) await writer.applyBatch(each);
  });
}

/** Applies one batch with the store's writer, then releases it; what the batch kept. */
export function applyOne(
  store: Pick<Store, 'openWriter'>,
  each: IngestBatch,
  options?: ApplyOptions,
): Promise<ApplyResult> {
  return withWriter(store, { purpose: 'a test' }, (writer) => writer.applyBatch(each, options));
}

/** The ledger records of one month (`YYYY-MM`). */
export function ledgerMonth(
  store: Pick<Store, 'readLedger'>,
  month: string,
): Promise<Map<number, LedgerHour>> {
  const start = periodStart(month);
  return store.readLedger(start, nextBucketStart('MONTH', start));
}

/** Six figures from one number; with whole `n` every value is exact in binary, so sums compare with toEqual. */
export function figures(n: number): Figures {
  return {
    ...zeroFigures(),
    busyCpuSeconds: 100 * n,
    idleCpuSeconds: 10 * n,
    busyKwh: n / 4,
    idleKwh: n / 16,
    busyGco2eq: 50 * n,
    idleGco2eq: 5 * n,
  };
}

/** Every figure of the catalogue from one number: the six of `figures`, and each resource a power of two times n. */
export function allFigures(n: number): Figures {
  const all = figures(n);
  RESOURCE_NAMES.forEach((field, i) => (all[field] = n * 2 ** (i - 6)));
  return all;
}

/** An hour or a total all on one machine type. */
export function usage(n: number, machine = 'SMALL'): Breakdown {
  return { all: figures(n), byMachine: { [machine]: figures(n) } };
}

export const NO_USAGE: Breakdown = { all: figures(0), byMachine: {} };

export const STATIC_INTENSITY = { gPerKwh: 200, estimated: false, source: 'static' };

export const at = (iso: string): number => Date.parse(iso);

export function okHour(iso: string, instanceHours: Record<string, number> = { small: 1 }): HourOutcome {
  return { hour: at(iso), status: 'ok', intensity: STATIC_INTENSITY, instanceHours };
}

export function failedHour(iso: string, error: string): HourOutcome {
  return { hour: at(iso), status: 'failed', error };
}

export const OK_LEDGER_HOUR: Extract<LedgerHour, { status: 'ok' }> = {
  status: 'ok',
  intensity: STATIC_INTENSITY,
  instanceHours: { small: 1 },
};

export function batch(
  outcomes: HourOutcome[],
  entries: DayEntry[],
  attemptedAt = '2030-01-01T00:00:00Z',
): IngestBatch {
  return { outcomes, entries, attemptedAt: at(attemptedAt) };
}

function expectFiguresClose(actual: Figures, expected: Figures): void {
  for (const field of Object.keys(expected) as Array<keyof Figures>) {
    expect(actual[field]).toBeCloseTo(expected[field], 9);
  }
}

export function expectBreakdownClose(actual: Breakdown, expected: Breakdown): void {
  expectFiguresClose(actual.all, expected.all);
  expect(Object.keys(actual.byMachine).sort()).toEqual(Object.keys(expected.byMachine).sort());
  for (const machine of Object.keys(expected.byMachine)) {
    expectFiguresClose(actual.byMachine[machine], expected.byMachine[machine]);
  }
}

function sum(parts: Breakdown[]): Breakdown {
  const total: Breakdown = { all: figures(0), byMachine: {} };
  const add = (into: Figures, part: Figures) => {
    for (const field of Object.keys(part) as Array<keyof Figures>) into[field] += part[field];
  };
  for (const part of parts) {
    add(total.all, part.all);
    for (const [machine, f] of Object.entries(part.byMachine))
      add((total.byMachine[machine] ??= figures(0)), f);
  }
  return total;
}

/** Every month roll-up of `year` holds exactly its days' totals and their sum; the year holds the months'. */
export async function expectRollupsEqualDays(
  store: Store,
  level: Level,
  key: string,
  year: string,
): Promise<void> {
  const [yearRollup] = await store.readYears(level, year, [key]);
  const monthTotals: Record<string, Breakdown> = {};
  for (let m = 1; m <= 12; m++) {
    const month = `${year}-${String(m).padStart(2, '0')}`;
    const dayTotals: Record<string, Breakdown> = {};
    for (let d = 1; d <= new Date(Date.UTC(Number(year), m, 0)).getUTCDate(); d++) {
      const date = `${month}-${String(d).padStart(2, '0')}`;
      const [day] = await store.readDays(level, date, [key]);
      if (day) dayTotals[date] = day.totals;
    }
    const [monthRollup] = await store.readMonths(level, month, [key]);
    if (Object.keys(dayTotals).length === 0) {
      expect(monthRollup).toBeNull();
      continue;
    }
    expect(monthRollup?.days).toEqual(dayTotals);
    expectBreakdownClose(monthRollup!.totals, sum(Object.values(dayTotals)));
    monthTotals[month] = monthRollup!.totals;
  }
  if (Object.keys(monthTotals).length === 0) {
    expect(yearRollup).toBeNull();
    return;
  }
  expect(yearRollup?.months).toEqual(monthTotals);
  expectBreakdownClose(yearRollup!.totals, sum(Object.values(monthTotals)));
}

/** What the shared suite needs of a backend, made afresh (and empty) for each test. */
export interface StoreFixture {
  store: Store;
  /** Another handle on the same stored data, as another process would open it. */
  openAnother(): Promise<Store>;
  /** Makes the stored day entry of (level, key, date) unreadable, as a damaged file or row is. */
  damageDay?(level: Level, key: string, date: string): Promise<void>;
  /** Makes the stored month (`YYYY-MM`) or year (`YYYY`) roll-up of (level, key) unreadable. */
  damageRollup?(level: Level, key: string, period: string): Promise<void>;
  /** The damaged roll-ups the store's writer set aside for an operator: `kind level key period` each. */
  rollupsSetAside?(): Promise<string[]>;
  cleanup(): Promise<void>;
}

/** What each part of the shared suite is given: the test's store and fixture, and further handles. */
export interface StoreContext {
  store: Store;
  fixture: StoreFixture;
  /** Another handle on the test's data (fixture.openAnother), closed after the test. */
  another(): Promise<Store>;
}
