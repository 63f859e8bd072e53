import { zeroFigures, type Breakdown, type Figures } from '../../src/domain/figures';
import { RESOURCE_NAMES } from '../../src/domain/metrics';
import { LEVELS, type Level } from '../../src/domain/levels';
import {
  FAILED,
  type DayEntry,
  type HourOutcome,
  type IngestBatch,
  type LedgerHour,
} from '../../src/domain/usage';
import { nextBucketStart, periodStart } from '../../src/domain/time';
import { describeStoreDamage } from './describe-store-damage';
import {
  InvalidBatchError,
  StoreLockedError,
  withWriter,
  type ApplyOptions,
  type ApplyResult,
  type Store,
} from '../../src/store/store';

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

function expectBreakdownClose(actual: Breakdown, expected: Breakdown): void {
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

/**
 * The behaviour every Store backend must show. A new backend is one line in a test:
 * `describeStore('name', makeFixture)`, where `makeFixture` gives an empty store (test/unit/store/
 * contract.test.ts runs every backend).
 */
export function describeStore(name: string, makeFixture: () => Promise<StoreFixture>): void {
  describe(`Store contract: ${name}`, () => {
    let store: Store;
    let fixture: StoreFixture;
    const others: Store[] = [];
    const another = async (): Promise<Store> => {
      const other = await fixture.openAnother();
      others.push(other);
      return other;
    };

    beforeEach(async () => {
      fixture = await makeFixture();
      store = fixture.store;
    });

    afterEach(async () => {
      for (const other of others.splice(0)) await other.close();
      await store.close();
      await fixture.cleanup();
    });

    it('reads back days, months and years at several levels, in the order of the keys asked', async () => {
      const alpha: DayEntry = {
        level: 'PROJECT',
        key: 'alpha',
        date: '2025-09-21',
        hours: {
          '03:00': { all: figures(3), byMachine: { SMALL: figures(1), LARGE: figures(2) } },
          '04:00': { all: figures(1), byMachine: { SMALL: figures(1) } },
        },
        totals: { all: figures(4), byMachine: { SMALL: figures(2), LARGE: figures(2) } },
      };
      const alphaNextDay: DayEntry = {
        level: 'PROJECT',
        key: 'alpha',
        date: '2025-09-22',
        hours: { '00:00': usage(8) },
        totals: usage(8),
      };
      const beta: DayEntry = {
        level: 'PROJECT',
        key: 'beta',
        date: '2025-09-21',
        hours: { '04:00': usage(5, 'LARGE') },
        totals: usage(5, 'LARGE'),
      };
      const alice: DayEntry = {
        level: 'USER',
        key: 'alice',
        date: '2025-09-21',
        hours: { '03:00': usage(2) },
        totals: usage(2),
      };
      const artemis: DayEntry = {
        level: 'MACHINE',
        key: 'Artemis (Matlab)',
        date: '2025-09-21',
        hours: { '04:00': usage(6, 'ARTEMIS_MATLAB') },
        totals: usage(6, 'ARTEMIS_MATLAB'),
      };
      const outcomes = [
        okHour('2025-09-21T03:00Z'),
        okHour('2025-09-21T04:00Z'),
        okHour('2025-09-22T00:00Z'),
      ];
      await apply(store, batch(outcomes, [alpha, alphaNextDay, beta, alice, artemis]));

      expect(await store.readDays('PROJECT', '2025-09-21', ['beta', 'nobody', 'alpha'])).toEqual([
        beta,
        null,
        alpha,
      ]);
      expect(await store.readDays('PROJECT', '2025-09-22', ['alpha', 'beta'])).toEqual([alphaNextDay, null]);
      expect(await store.readDays('USER', '2025-09-21', ['alice', 'alpha'])).toEqual([alice, null]);
      expect(await store.readDays('MACHINE', '2025-09-21', ['Artemis (Matlab)'])).toEqual([artemis]);
      expect(await store.readDays('EXPERIMENT', '2025-09-21', ['alpha'])).toEqual([null]);
      // Asked for `all` alone, the same `all` figures (a store may leave the machines out).
      const allOf = (entry: DayEntry | null) =>
        entry && {
          hours: Object.entries(entry.hours).map(([label, hour]) => [
            label,
            hour === FAILED ? hour : hour.all,
          ]),
          totals: entry.totals.all,
        };
      const asked = ['beta', 'nobody', 'alpha'];
      const full = await store.readDays('PROJECT', '2025-09-21', asked);
      const lean = await store.readDays('PROJECT', '2025-09-21', asked, { byMachine: false });
      expect(lean.map(allOf)).toEqual(full.map(allOf));

      const alphaSeptember = { all: figures(12), byMachine: { SMALL: figures(10), LARGE: figures(2) } };
      expect(await store.readMonths('PROJECT', '2025-09', ['nobody', 'alpha', 'beta'])).toEqual([
        null,
        {
          level: 'PROJECT',
          key: 'alpha',
          month: '2025-09',
          days: { '2025-09-21': alpha.totals, '2025-09-22': usage(8) },
          totals: alphaSeptember,
        },
        {
          level: 'PROJECT',
          key: 'beta',
          month: '2025-09',
          days: { '2025-09-21': usage(5, 'LARGE') },
          totals: usage(5, 'LARGE'),
        },
      ]);
      expect(await store.readMonths('PROJECT', '2025-10', ['alpha'])).toEqual([null]);
      expect(await store.readYears('PROJECT', '2025', ['alpha', 'nobody'])).toEqual([
        {
          level: 'PROJECT',
          key: 'alpha',
          year: '2025',
          months: { '2025-09': alphaSeptember },
          totals: alphaSeptember,
        },
        null,
      ]);
      expect(await store.readYears('USER', '2025', ['alice'])).toEqual([
        { level: 'USER', key: 'alice', year: '2025', months: { '2025-09': usage(2) }, totals: usage(2) },
      ]);
      expect(await store.readYears('PROJECT', '2024', ['alpha'])).toEqual([null]);
      expect(await ledgerMonth(store, '2025-09')).toEqual(
        new Map([
          [at('2025-09-21T03:00Z'), OK_LEDGER_HOUR],
          [at('2025-09-21T04:00Z'), OK_LEDGER_HOUR],
          [at('2025-09-22T00:00Z'), OK_LEDGER_HOUR],
        ]),
      );
      expect(await ledgerMonth(store, '2025-08')).toEqual(new Map());
    });

    it('keeps every figure of the metric catalogue through days, months and years', async () => {
      const day = (date: string, n: number): DayEntry => ({
        level: 'INSTANCE',
        key: 'vm-1:9100',
        date,
        hours: { '05:00': { all: allFigures(n), byMachine: { SMALL: allFigures(n) } } },
        totals: { all: allFigures(n), byMachine: { SMALL: allFigures(n) } },
      });
      const first = day('2025-09-21', 3);
      const second = day('2025-09-22', 5);
      await apply(store, batch([okHour('2025-09-21T05:00Z'), okHour('2025-09-22T05:00Z')], [first, second]));
      expect(await store.readDays('INSTANCE', '2025-09-21', ['vm-1:9100'])).toEqual([first]);
      const [month] = await store.readMonths('INSTANCE', '2025-09', ['vm-1:9100']);
      expect(month?.totals).toEqual({ all: allFigures(8), byMachine: { SMALL: allFigures(8) } });
      const [year] = await store.readYears('INSTANCE', '2025', ['vm-1:9100']);
      expect(year?.totals).toEqual({ all: allFigures(8), byMachine: { SMALL: allFigures(8) } });
    });

    it('keeps roll-ups equal to the sum of their days across UTC month and year edges', async () => {
      await apply(
        store,
        batch(
          [
            okHour('2024-02-28T23:00Z'),
            okHour('2024-02-29T00:00Z'),
            okHour('2024-02-29T23:00Z'),
            okHour('2024-03-01T00:00Z'),
          ],
          [
            {
              level: 'PROJECT',
              key: 'alpha',
              date: '2024-02-28',
              hours: { '23:00': usage(0.1) },
              totals: usage(0.1),
            },
            {
              level: 'PROJECT',
              key: 'alpha',
              date: '2024-02-29',
              hours: { '00:00': usage(0.2), '23:00': usage(0.3, 'LARGE') },
              totals: { all: figures(0.5), byMachine: { SMALL: figures(0.2), LARGE: figures(0.3) } },
            },
            {
              level: 'PROJECT',
              key: 'alpha',
              date: '2024-03-01',
              hours: { '00:00': usage(0.4) },
              totals: usage(0.4),
            },
          ],
        ),
      );
      await apply(
        store,
        batch(
          [okHour('2025-12-31T23:00Z'), okHour('2026-01-01T00:00Z')],
          [
            {
              level: 'USER',
              key: 'bob',
              date: '2025-12-31',
              hours: { '23:00': usage(0.7) },
              totals: usage(0.7),
            },
            {
              level: 'USER',
              key: 'bob',
              date: '2026-01-01',
              hours: { '00:00': usage(0.9) },
              totals: usage(0.9),
            },
          ],
        ),
      );

      const [february] = await store.readMonths('PROJECT', '2024-02', ['alpha']);
      expect(Object.keys(february!.days)).toEqual(['2024-02-28', '2024-02-29']);
      expectBreakdownClose(february!.totals, {
        all: figures(0.6),
        byMachine: { SMALL: figures(0.3), LARGE: figures(0.3) },
      });
      const [leapYear] = await store.readYears('PROJECT', '2024', ['alpha']);
      expect(Object.keys(leapYear!.months)).toEqual(['2024-02', '2024-03']);
      expectBreakdownClose(leapYear!.months['2024-03'], usage(0.4));
      expectBreakdownClose(leapYear!.totals, {
        all: figures(1),
        byMachine: { SMALL: figures(0.7), LARGE: figures(0.3) },
      });
      await expectRollupsEqualDays(store, 'PROJECT', 'alpha', '2024');

      expect(await store.readYears('USER', '2025', ['bob'])).toEqual([
        { level: 'USER', key: 'bob', year: '2025', months: { '2025-12': usage(0.7) }, totals: usage(0.7) },
      ]);
      expect(await store.readYears('USER', '2026', ['bob'])).toEqual([
        { level: 'USER', key: 'bob', year: '2026', months: { '2026-01': usage(0.9) }, totals: usage(0.9) },
      ]);
      await expectRollupsEqualDays(store, 'USER', 'bob', '2025');
      await expectRollupsEqualDays(store, 'USER', 'bob', '2026');
    });

    /** Known keys at every level on 2025-09-21 03:00, and `beta` known from the day before. */
    async function storeWithKnownKeys(): Promise<void> {
      const at0300 = (level: Level, key: string): DayEntry => ({
        level,
        key,
        date: '2025-09-21',
        hours: { '03:00': usage(3) },
        totals: usage(3),
      });
      await apply(
        store,
        batch(
          [okHour('2025-09-20T10:00Z'), okHour('2025-09-21T03:00Z')],
          [
            at0300('PROJECT', 'alpha'),
            {
              level: 'PROJECT',
              key: 'beta',
              date: '2025-09-20',
              hours: { '10:00': usage(1) },
              totals: usage(1),
            },
            at0300('EXPERIMENT', 'exp-1'),
            at0300('MACHINE', 'big'),
            at0300('USER', 'alice'),
            at0300('INSTANCE', 'host-1:9100'),
          ],
        ),
      );
    }

    /** 05:00 ok with a new key `gamma`, 06:00 failed. */
    async function failSixOClock(): Promise<void> {
      await apply(
        store,
        batch(
          [okHour('2025-09-21T05:00Z'), failedHour('2025-09-21T06:00Z', 'query timed out')],
          [
            {
              level: 'PROJECT',
              key: 'gamma',
              date: '2025-09-21',
              hours: { '05:00': usage(4) },
              totals: usage(4),
            },
          ],
          '2025-09-21T07:05:00Z',
        ),
      );
    }

    it('marks a failed hour in every known key at every level, counting only the other hours', async () => {
      await storeWithKnownKeys();
      await failSixOClock();

      const marked = (level: Level, key: string): DayEntry => ({
        level,
        key,
        date: '2025-09-21',
        hours: { '03:00': usage(3), '06:00': FAILED },
        totals: usage(3),
      });
      expect(await store.readDays('PROJECT', '2025-09-21', ['alpha', 'beta', 'gamma'])).toEqual([
        marked('PROJECT', 'alpha'),
        { level: 'PROJECT', key: 'beta', date: '2025-09-21', hours: { '06:00': FAILED }, totals: NO_USAGE },
        {
          level: 'PROJECT',
          key: 'gamma',
          date: '2025-09-21',
          hours: { '05:00': usage(4), '06:00': FAILED },
          totals: usage(4),
        },
      ]);
      expect(await store.readDays('EXPERIMENT', '2025-09-21', ['exp-1'])).toEqual([
        marked('EXPERIMENT', 'exp-1'),
      ]);
      expect(await store.readDays('MACHINE', '2025-09-21', ['big'])).toEqual([marked('MACHINE', 'big')]);
      expect(await store.readDays('USER', '2025-09-21', ['alice'])).toEqual([marked('USER', 'alice')]);
      expect(await store.readDays('INSTANCE', '2025-09-21', ['host-1:9100'])).toEqual([
        marked('INSTANCE', 'host-1:9100'),
      ]);
      expect(await store.readDays('PROJECT', '2025-09-20', ['beta'])).toEqual([
        { level: 'PROJECT', key: 'beta', date: '2025-09-20', hours: { '10:00': usage(1) }, totals: usage(1) },
      ]);
      expect(await store.readMonths('PROJECT', '2025-09', ['beta'])).toEqual([
        {
          level: 'PROJECT',
          key: 'beta',
          month: '2025-09',
          days: { '2025-09-20': usage(1), '2025-09-21': NO_USAGE },
          totals: usage(1),
        },
      ]);
      await expectRollupsEqualDays(store, 'PROJECT', 'gamma', '2025');
      expect((await ledgerMonth(store, '2025-09')).get(at('2025-09-21T06:00Z'))).toEqual({
        status: 'failed',
        attempts: 1,
        error: 'query timed out',
        lastAttemptAt: '2025-09-21T07:05:00.000Z',
      });

      const daysAfterOneFailure = await store.readDays('PROJECT', '2025-09-21', ['alpha', 'beta', 'gamma']);
      await apply(
        store,
        batch([failedHour('2025-09-21T06:00Z', 'connection refused')], [], '2025-09-21T08:05:00Z'),
      );
      expect(await store.readDays('PROJECT', '2025-09-21', ['alpha', 'beta', 'gamma'])).toEqual(
        daysAfterOneFailure,
      );
      expect((await ledgerMonth(store, '2025-09')).get(at('2025-09-21T06:00Z'))).toEqual({
        status: 'failed',
        attempts: 2,
        error: 'connection refused',
        lastAttemptAt: '2025-09-21T08:05:00.000Z',
      });
    });

    it('replaces failed markers with figures, or removes them, when the hour later succeeds', async () => {
      await storeWithKnownKeys();
      await failSixOClock();
      await apply(
        store,
        batch(
          [okHour('2025-09-21T06:00Z')],
          [
            {
              level: 'PROJECT',
              key: 'alpha',
              date: '2025-09-21',
              hours: { '06:00': usage(2) },
              totals: usage(2),
            },
          ],
        ),
      );

      expect(await store.readDays('PROJECT', '2025-09-21', ['alpha', 'beta', 'gamma'])).toEqual([
        {
          level: 'PROJECT',
          key: 'alpha',
          date: '2025-09-21',
          hours: { '03:00': usage(3), '06:00': usage(2) },
          totals: usage(5),
        },
        null,
        {
          level: 'PROJECT',
          key: 'gamma',
          date: '2025-09-21',
          hours: { '05:00': usage(4) },
          totals: usage(4),
        },
      ]);
      expect(await store.readDays('USER', '2025-09-21', ['alice'])).toEqual([
        { level: 'USER', key: 'alice', date: '2025-09-21', hours: { '03:00': usage(3) }, totals: usage(3) },
      ]);
      expect(await store.readMonths('PROJECT', '2025-09', ['beta'])).toEqual([
        {
          level: 'PROJECT',
          key: 'beta',
          month: '2025-09',
          days: { '2025-09-20': usage(1) },
          totals: usage(1),
        },
      ]);
      for (const key of ['alpha', 'beta', 'gamma'])
        await expectRollupsEqualDays(store, 'PROJECT', key, '2025');
      expect((await ledgerMonth(store, '2025-09')).get(at('2025-09-21T06:00Z'))).toEqual(OK_LEDGER_HOUR);
    });

    it('keeps the figures and ok status of an hour that later fails, recording only the attempt', async () => {
      const alpha: DayEntry = {
        level: 'PROJECT',
        key: 'alpha',
        date: '2025-09-21',
        hours: { '03:00': usage(3) },
        totals: usage(3),
      };
      await apply(store, batch([okHour('2025-09-21T03:00Z')], [alpha]));
      await apply(store, batch([failedHour('2025-09-21T03:00Z', 'boom')], []));
      await apply(store, batch([failedHour('2025-09-21T03:00Z', 'bang')], []));

      expect(await store.readDays('PROJECT', '2025-09-21', ['alpha'])).toEqual([alpha]);
      expect(await ledgerMonth(store, '2025-09')).toEqual(
        new Map([[at('2025-09-21T03:00Z'), { ...OK_LEDGER_HOUR, failedAttempts: 2, lastError: 'bang' }]]),
      );
    });

    it('keeps an ok hour whose new answer has fewer instance-hours, unless told to replace it', async () => {
      const alpha: DayEntry = {
        level: 'PROJECT',
        key: 'alpha',
        date: '2025-09-21',
        hours: { '03:00': usage(3), '04:00': usage(4) },
        totals: usage(7),
      };
      const twoInstances = (iso: string): HourOutcome => okHour(iso, { small: 2 });
      await apply(
        store,
        batch([twoInstances('2025-09-21T03:00Z'), twoInstances('2025-09-21T04:00Z')], [alpha]),
      );
      const ledgerBefore = await ledgerMonth(store, '2025-09');

      // An empty answer for 03:00, one series of two for 04:00: both are kept, and said to be.
      const emptied = okHour('2025-09-21T03:00Z', {});
      const fewer = okHour('2025-09-21T04:00Z', { small: 1 });
      const lower: DayEntry = { ...alpha, hours: { '04:00': usage(1) }, totals: usage(1) };
      const result = await applyOne(store, batch([emptied, fewer], [lower]));
      expect(result.keptHours.map((kept) => kept.hour)).toEqual([
        at('2025-09-21T03:00Z'),
        at('2025-09-21T04:00Z'),
      ]);
      expect(result.keptHours[1].reason).toMatch(/1 of 2 "small"/);
      expect(await store.readDays('PROJECT', '2025-09-21', ['alpha'])).toEqual([alpha]);
      expect(await store.readMonths('PROJECT', '2025-09', ['alpha'])).toMatchObject([{ totals: usage(7) }]);
      expect(await ledgerMonth(store, '2025-09')).toEqual(ledgerBefore);

      // As many series, or more, replace the hour; so does an explicit replacement with fewer.
      const more = await applyOne(
        store,
        batch(
          [okHour('2025-09-21T04:00Z', { small: 3 })],
          [{ ...lower, hours: { '04:00': usage(5) }, totals: usage(5) }],
        ),
      );
      expect(more.keptHours).toEqual([]);
      expect((await store.readDays('PROJECT', '2025-09-21', ['alpha']))[0]?.hours['04:00']).toEqual(usage(5));
      const replaced = await applyOne(store, batch([emptied], []), { replace: true });
      expect(replaced.keptHours).toEqual([]);
      expect(await store.readDays('PROJECT', '2025-09-21', ['alpha'])).toEqual([
        { ...alpha, hours: { '04:00': usage(5) }, totals: usage(5) },
      ]);
      expect((await ledgerMonth(store, '2025-09')).get(at('2025-09-21T03:00Z'))).toMatchObject({
        status: 'ok',
        instanceHours: {},
      });
    });

    it('keeps an ok hour whose new answer was sampled less (pruned samples), unless told to replace it', async () => {
      const alpha: DayEntry = {
        level: 'PROJECT',
        key: 'alpha',
        date: '2025-09-21',
        hours: { '03:00': usage(3) },
        totals: usage(3),
      };
      const sampledFor = (hours: number): HourOutcome => ({
        hour: at('2025-09-21T03:00Z'),
        status: 'ok',
        intensity: STATIC_INTENSITY,
        instanceHours: { small: 2 },
        sampledHours: { small: hours },
      });
      await apply(store, batch([sampledFor(1.75)], [alpha]));
      const ledgerBefore = await ledgerMonth(store, '2025-09');
      expect(ledgerBefore.get(at('2025-09-21T03:00Z'))).toMatchObject({ sampledHours: { small: 1.75 } });

      // As many instance-hours, measured from half an hour less: kept, and said to be.
      const lower: DayEntry = { ...alpha, hours: { '03:00': usage(2) }, totals: usage(2) };
      const result = await applyOne(store, batch([sampledFor(1.25)], [lower]));
      expect(result.keptHours).toEqual([
        {
          hour: at('2025-09-21T03:00Z'),
          reason: expect.stringMatching(/sampled hours: 1\.250 of 1\.750 "small"/),
        },
      ]);
      expect(await store.readDays('PROJECT', '2025-09-21', ['alpha'])).toEqual([alpha]);
      expect(await ledgerMonth(store, '2025-09')).toEqual(ledgerBefore);

      const replaced = await applyOne(store, batch([sampledFor(1.25)], [lower]), { replace: true });
      expect(replaced.keptHours).toEqual([]);
      expect(await store.readDays('PROJECT', '2025-09-21', ['alpha'])).toEqual([lower]);
      expect((await ledgerMonth(store, '2025-09')).get(at('2025-09-21T03:00Z'))).toMatchObject({
        sampledHours: { small: 1.25 },
      });
    });

    it("removes a key's bucket when its hour is re-ingested without it, and leaves other hours alone", async () => {
      const day = (level: Level, key: string, hours: DayEntry['hours'], totals: Breakdown): DayEntry => ({
        level,
        key,
        date: '2025-09-21',
        hours,
        totals,
      });
      await apply(
        store,
        batch(
          [okHour('2025-09-21T03:00Z'), okHour('2025-09-21T04:00Z')],
          [
            day('PROJECT', 'alpha', { '03:00': usage(1) }, usage(1)),
            day('PROJECT', 'beta', { '03:00': usage(2), '04:00': usage(3) }, usage(5)),
            day('PROJECT', 'carol', { '03:00': usage(4) }, usage(4)),
            day('USER', 'carol', { '03:00': usage(4) }, usage(4)),
          ],
        ),
      );
      await apply(
        store,
        batch([okHour('2025-09-21T03:00Z')], [day('PROJECT', 'alpha', { '03:00': usage(7) }, usage(7))]),
      );

      expect(await store.readDays('PROJECT', '2025-09-21', ['alpha', 'beta', 'carol'])).toEqual([
        day('PROJECT', 'alpha', { '03:00': usage(7) }, usage(7)),
        day('PROJECT', 'beta', { '04:00': usage(3) }, usage(3)),
        null,
      ]);
      expect(await store.readDays('USER', '2025-09-21', ['carol'])).toEqual([null]);
      expect(await store.readMonths('PROJECT', '2025-09', ['beta', 'carol'])).toEqual([
        {
          level: 'PROJECT',
          key: 'beta',
          month: '2025-09',
          days: { '2025-09-21': usage(3) },
          totals: usage(3),
        },
        null,
      ]);
      expect(await store.readYears('PROJECT', '2025', ['carol'])).toEqual([null]);
      expect(await store.listKeys('PROJECT')).toEqual(['alpha', 'beta']);
      expect(await store.listKeys('USER')).toEqual([]);
    });

    it('reads back the same after the same batch is applied twice', async () => {
      const entries: DayEntry[] = [
        {
          level: 'PROJECT',
          key: 'alpha',
          date: '2025-09-21',
          hours: { '23:00': usage(0.3) },
          totals: usage(0.3),
        },
        {
          level: 'PROJECT',
          key: 'alpha',
          date: '2025-09-22',
          hours: { '00:00': usage(0.1) },
          totals: usage(0.1),
        },
        {
          level: 'USER',
          key: 'alice',
          date: '2025-09-22',
          hours: { '00:00': usage(0.1) },
          totals: usage(0.1),
        },
      ];
      const twice = batch(
        [okHour('2025-09-21T23:00Z'), okHour('2025-09-22T00:00Z'), failedHour('2025-09-22T01:00Z', 'down')],
        entries,
      );
      const readAll = async () => ({
        days: await Promise.all(
          ['2025-09-21', '2025-09-22'].flatMap((date) =>
            LEVELS.map((level) => store.readDays(level, date, ['alpha', 'alice'])),
          ),
        ),
        months: await Promise.all(
          LEVELS.map((level) => store.readMonths(level, '2025-09', ['alpha', 'alice'])),
        ),
        years: await Promise.all(LEVELS.map((level) => store.readYears(level, '2025', ['alpha', 'alice']))),
        keys: await Promise.all(LEVELS.map((level) => store.listKeys(level))),
      });

      await apply(store, twice);
      const once = await readAll();
      await apply(store, twice);
      expect(await readAll()).toEqual(once);
      expect(once.keys).toEqual([['alpha'], [], [], ['alice'], []]);
    });

    it('lists keys sorted, per level', async () => {
      const keys = ['b', 'B', 'a', 'Ä', '10', '9', 'a b'];
      await apply(
        store,
        batch(
          [okHour('2025-09-21T03:00Z')],
          [
            ...keys.map((key): DayEntry => ({
              level: 'PROJECT',
              key,
              date: '2025-09-21',
              hours: { '03:00': usage(1) },
              totals: usage(1),
            })),
            { level: 'USER', key: 'zed', date: '2025-09-21', hours: { '03:00': usage(1) }, totals: usage(1) },
          ],
        ),
      );
      expect(await store.listKeys('PROJECT')).toEqual(['10', '9', 'B', 'a', 'a b', 'b', 'Ä']);
      expect(await store.listKeys('USER')).toEqual(['zed']);
      expect(await store.listKeys('EXPERIMENT')).toEqual([]);
    });

    it('records hours without usage, and failures with no key known, in the ledger alone', async () => {
      await apply(
        store,
        batch(
          [okHour('2025-09-21T03:00Z'), failedHour('2025-09-21T04:00Z', 'down')],
          [],
          '2025-09-21T05:00:00Z',
        ),
      );
      expect(await ledgerMonth(store, '2025-09')).toEqual(
        new Map<number, LedgerHour>([
          [at('2025-09-21T03:00Z'), OK_LEDGER_HOUR],
          [
            at('2025-09-21T04:00Z'),
            { status: 'failed', attempts: 1, error: 'down', lastAttemptAt: '2025-09-21T05:00:00.000Z' },
          ],
        ]),
      );
      for (const level of LEVELS) expect(await store.listKeys(level)).toEqual([]);
    });

    it('keeps the union of the projects each instance ran under, across batches', async () => {
      expect(await store.readInstanceProjects()).toEqual(new Map());
      await apply(store, {
        ...batch([okHour('2025-09-21T03:00Z')], []),
        instanceProjects: { 'vm-1:9100': ['alpha'], 'vm-2:9100': ['beta', 'gamma'] },
      });
      await apply(store, {
        ...batch([okHour('2025-09-21T04:00Z')], []),
        instanceProjects: { 'vm-1:9100': ['beta'], 'vm-3:9100': ['alpha'] },
      });
      // A batch that says nothing of instances forgets none.
      await apply(store, batch([okHour('2025-09-21T05:00Z')], []));
      expect(await store.readInstanceProjects()).toEqual(
        new Map([
          ['vm-1:9100', new Set(['alpha', 'beta'])],
          ['vm-2:9100', new Set(['beta', 'gamma'])],
          ['vm-3:9100', new Set(['alpha'])],
        ]),
      );
    });

    it('reads the ledger of a range of hours, and nothing outside it', async () => {
      await apply(
        store,
        batch([okHour('2025-09-30T22:00Z'), okHour('2025-09-30T23:00Z'), okHour('2025-10-01T00:00Z')], []),
      );
      expect(await store.readLedger(at('2025-09-30T23:00Z'), at('2025-10-01T01:00Z'))).toEqual(
        new Map([
          [at('2025-09-30T23:00Z'), OK_LEDGER_HOUR],
          [at('2025-10-01T00:00Z'), OK_LEDGER_HOUR],
        ]),
      );
      expect(await store.readLedger(at('2025-10-01T01:00Z'), at('2025-11-01T00:00Z'))).toEqual(new Map());
    });

    it('reads the statuses alone as the records hold them, where it can', async () => {
      await apply(store, batch([okHour('2025-09-30T23:00Z'), failedHour('2025-10-01T00:00Z', 'down')], []));
      const [from, to] = [at('2025-09-30T22:00Z'), at('2025-10-01T02:00Z')];
      const records = await store.readLedger(from, to);
      const statuses = new Map([...records].map(([hour, record]) => [hour, record.status]));
      expect([...statuses.values()]).toEqual(['ok', 'failed']);
      if (store.readLedgerStatuses) expect(await store.readLedgerStatuses(from, to)).toEqual(statuses);
    });

    it('rejects a batch that contradicts itself, writing nothing', async () => {
      const before = await store.version();
      const contradiction = batch(
        [failedHour('2025-09-21T03:00Z', 'down')],
        [
          {
            level: 'PROJECT',
            key: 'alpha',
            date: '2025-09-21',
            hours: { '03:00': usage(1) },
            totals: usage(1),
          },
        ],
      );
      await expect(apply(store, contradiction)).rejects.toBeInstanceOf(InvalidBatchError);
      expect(await store.listKeys('PROJECT')).toEqual([]);
      expect(await store.readLedger(at('2025-09-01T00:00Z'), at('2025-10-01T00:00Z'))).toEqual(new Map());
      expect(await store.version()).toBe(before);
    });

    it('lets one writer in at a time across handles, naming the holder to the others', async () => {
      const other = await another();
      const writer = await store.openWriter({ purpose: 'the first writer' });
      const refused = other.openWriter({ purpose: 'the second writer' });
      await expect(refused).rejects.toBeInstanceOf(StoreLockedError);
      await expect(refused).rejects.toThrow('the first writer');
      // The same handle is refused too: one writer means one, not one per handle.
      await expect(store.openWriter({ purpose: 'a third writer' })).rejects.toBeInstanceOf(StoreLockedError);
      const waiting = other.openWriter({ purpose: 'the second writer', waitMs: 30_000, pollMs: 10 });
      await writer.applyBatch(batch([okHour('2025-09-21T03:00Z')], []));
      await writer.release();
      await writer.release();
      const second = await waiting;
      await second.applyBatch(batch([okHour('2025-09-21T04:00Z')], []));
      await second.release();
      expect([...(await store.readLedger(at('2025-09-21T00:00Z'), at('2025-09-22T00:00Z'))).keys()]).toEqual([
        at('2025-09-21T03:00Z'),
        at('2025-09-21T04:00Z'),
      ]);
    });

    it('gives a new version after every batch that changes anything, the same to every handle', async () => {
      const other = await another();
      const seen = [await store.version()];
      const steps = [
        batch(
          [okHour('2025-09-21T03:00Z')],
          [{ level: 'USER', key: 'al', date: '2025-09-21', hours: { '03:00': usage(1) }, totals: usage(1) }],
        ),
        batch([failedHour('2025-09-21T04:00Z', 'down')], []),
        { ...batch([okHour('2025-09-21T05:00Z')], []), instanceProjects: { 'vm-1:9100': ['alpha'] } },
        batch([okHour('2025-09-21T03:00Z')], []),
      ];
      for (const step of steps) {
        await apply(store, step);
        const version = await store.version();
        expect(version).toBeDefined();
        expect(seen).not.toContain(version);
        // Another handle (a replica, say) may take a moment to see it, never longer than a few.
        const deadline = Date.now() + 5000;
        while ((await other.version()) !== version && Date.now() < deadline) {
          await new Promise((resolve) => setTimeout(resolve, 50));
        }
        expect(await other.version()).toBe(version);
        seen.push(version);
      }
    });

    it('keeps roll-ups equal to their days for every reader while a writer is part-way', async () => {
      const other = await another();
      const writer = await store.openWriter({ purpose: 'a backfill' });
      for (const date of ['2025-09-29', '2025-09-30', '2025-10-01', '2025-10-02']) {
        await writer.applyBatch(
          batch(
            [okHour(`${date}T12:00Z`)],
            [{ level: 'PROJECT', key: 'alpha', date, hours: { '12:00': usage(1) }, totals: usage(1) }],
          ),
        );
        await expectRollupsEqualDays(other, 'PROJECT', 'alpha', '2025');
      }
      await expectRollupsEqualDays(store, 'PROJECT', 'alpha', '2025');
      await writer.release();
      await expectRollupsEqualDays(other, 'PROJECT', 'alpha', '2025');
    });

    it('finishes on close what its writer left pending, and lets the next writer in', async () => {
      const writer = await store.openWriter({ purpose: 'a backfill closed part-way' });
      await writer.applyBatch(
        batch(
          [okHour('2025-12-31T23:00Z'), okHour('2026-01-01T00:00Z')],
          [
            {
              level: 'PROJECT',
              key: 'alpha',
              date: '2025-12-31',
              hours: { '23:00': usage(1) },
              totals: usage(1),
            },
            {
              level: 'PROJECT',
              key: 'alpha',
              date: '2026-01-01',
              hours: { '00:00': usage(2) },
              totals: usage(2),
            },
          ],
        ),
      );
      await store.close();
      const other = await another();
      await expectRollupsEqualDays(other, 'PROJECT', 'alpha', '2025');
      await expectRollupsEqualDays(other, 'PROJECT', 'alpha', '2026');
      expect(await other.version()).toBeDefined();
      await (await other.openWriter({ purpose: 'the next writer' })).release();
    });

    it('keeps carbon intensities of settled hours for every handle, and no estimates', async () => {
      const other = await another();
      const hour = at('2025-09-21T03:00Z');
      await store.intensityCache.put(
        new Map([
          [hour, { gPerKwh: 180, estimated: false, source: 'carbon-intensity-api' }],
          [hour + 3_600_000, { gPerKwh: 200, estimated: true, source: 'fallback' }],
        ]),
      );
      expect(await other.intensityCache.get(hour, hour + 2 * 3_600_000)).toEqual(
        new Map([[hour, { gPerKwh: 180, estimated: false, source: 'carbon-intensity-api' }]]),
      );
    });

    describeStoreDamage(() => ({ store, fixture }));

    it('is readable and closes', async () => {
      await expect(store.checkReadable()).resolves.toBeUndefined();
    });
  });
}
