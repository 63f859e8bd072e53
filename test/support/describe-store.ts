import type { Breakdown, Figures } from '../../src/domain/figures';
import { LEVELS, type Level } from '../../src/domain/levels';
import {
  FAILED,
  type DayEntry,
  type HourOutcome,
  type IngestBatch,
  type LedgerHour,
} from '../../src/domain/usage';
import type { Store } from '../../src/store/store';

/** Six figures from one number; with whole `n` every value is exact in binary, so sums compare with toEqual. */
export function figures(n: number): Figures {
  return {
    busyCpuSeconds: 100 * n,
    idleCpuSeconds: 10 * n,
    busyKwh: n / 4,
    idleKwh: n / 16,
    busyGco2eq: 50 * n,
    idleGco2eq: 5 * n,
  };
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
async function expectRollupsEqualDays(store: Store, level: Level, key: string, year: string): Promise<void> {
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

/** The behaviour every Store backend must show; run it with a factory of empty stores. */
export function describeStore(
  name: string,
  makeStore: () => Promise<{ store: Store; cleanup(): Promise<void> }>,
): void {
  describe(`Store contract: ${name}`, () => {
    let store: Store;
    let cleanup: () => Promise<void>;

    beforeEach(async () => {
      ({ store, cleanup } = await makeStore());
    });

    afterEach(async () => {
      await store.close();
      await cleanup();
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
      await store.applyBatch(batch(outcomes, [alpha, alphaNextDay, beta, alice, artemis]));

      expect(await store.readDays('PROJECT', '2025-09-21', ['beta', 'nobody', 'alpha'])).toEqual([
        beta,
        null,
        alpha,
      ]);
      expect(await store.readDays('PROJECT', '2025-09-22', ['alpha', 'beta'])).toEqual([alphaNextDay, null]);
      expect(await store.readDays('USER', '2025-09-21', ['alice', 'alpha'])).toEqual([alice, null]);
      expect(await store.readDays('MACHINE', '2025-09-21', ['Artemis (Matlab)'])).toEqual([artemis]);
      expect(await store.readDays('EXPERIMENT', '2025-09-21', ['alpha'])).toEqual([null]);

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
      expect(await store.readLedgerMonth('2025-09')).toEqual(
        new Map([
          [at('2025-09-21T03:00Z'), OK_LEDGER_HOUR],
          [at('2025-09-21T04:00Z'), OK_LEDGER_HOUR],
          [at('2025-09-22T00:00Z'), OK_LEDGER_HOUR],
        ]),
      );
      expect(await store.readLedgerMonth('2025-08')).toEqual(new Map());
    });

    it('keeps roll-ups equal to the sum of their days across UTC month and year edges', async () => {
      await store.applyBatch(
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
      await store.applyBatch(
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
      await store.applyBatch(
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
      await store.applyBatch(
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
      expect((await store.readLedgerMonth('2025-09')).get(at('2025-09-21T06:00Z'))).toEqual({
        status: 'failed',
        attempts: 1,
        error: 'query timed out',
        lastAttemptAt: '2025-09-21T07:05:00.000Z',
      });

      const daysAfterOneFailure = await store.readDays('PROJECT', '2025-09-21', ['alpha', 'beta', 'gamma']);
      await store.applyBatch(
        batch([failedHour('2025-09-21T06:00Z', 'connection refused')], [], '2025-09-21T08:05:00Z'),
      );
      expect(await store.readDays('PROJECT', '2025-09-21', ['alpha', 'beta', 'gamma'])).toEqual(
        daysAfterOneFailure,
      );
      expect((await store.readLedgerMonth('2025-09')).get(at('2025-09-21T06:00Z'))).toEqual({
        status: 'failed',
        attempts: 2,
        error: 'connection refused',
        lastAttemptAt: '2025-09-21T08:05:00.000Z',
      });
    });

    it('replaces failed markers with figures, or removes them, when the hour later succeeds', async () => {
      await storeWithKnownKeys();
      await failSixOClock();
      await store.applyBatch(
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
      expect((await store.readLedgerMonth('2025-09')).get(at('2025-09-21T06:00Z'))).toEqual(OK_LEDGER_HOUR);
    });

    it('keeps the figures and ok status of an hour that later fails, recording only the attempt', async () => {
      const alpha: DayEntry = {
        level: 'PROJECT',
        key: 'alpha',
        date: '2025-09-21',
        hours: { '03:00': usage(3) },
        totals: usage(3),
      };
      await store.applyBatch(batch([okHour('2025-09-21T03:00Z')], [alpha]));
      await store.applyBatch(batch([failedHour('2025-09-21T03:00Z', 'boom')], []));
      await store.applyBatch(batch([failedHour('2025-09-21T03:00Z', 'bang')], []));

      expect(await store.readDays('PROJECT', '2025-09-21', ['alpha'])).toEqual([alpha]);
      expect(await store.readLedgerMonth('2025-09')).toEqual(
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
      await store.applyBatch(
        batch([twoInstances('2025-09-21T03:00Z'), twoInstances('2025-09-21T04:00Z')], [alpha]),
      );
      const ledgerBefore = await store.readLedgerMonth('2025-09');

      // An empty answer for 03:00, one series of two for 04:00: both are kept, and said to be.
      const emptied = okHour('2025-09-21T03:00Z', {});
      const fewer = okHour('2025-09-21T04:00Z', { small: 1 });
      const lower: DayEntry = { ...alpha, hours: { '04:00': usage(1) }, totals: usage(1) };
      const result = await store.applyBatch(batch([emptied, fewer], [lower]));
      expect(result.keptHours.map((kept) => kept.hour)).toEqual([
        at('2025-09-21T03:00Z'),
        at('2025-09-21T04:00Z'),
      ]);
      expect(result.keptHours[1].reason).toMatch(/1 of 2 "small"/);
      expect(await store.readDays('PROJECT', '2025-09-21', ['alpha'])).toEqual([alpha]);
      expect(await store.readMonths('PROJECT', '2025-09', ['alpha'])).toMatchObject([{ totals: usage(7) }]);
      expect(await store.readLedgerMonth('2025-09')).toEqual(ledgerBefore);

      // As many series, or more, replace the hour; so does an explicit replacement with fewer.
      const more = await store.applyBatch(
        batch(
          [okHour('2025-09-21T04:00Z', { small: 3 })],
          [{ ...lower, hours: { '04:00': usage(5) }, totals: usage(5) }],
        ),
      );
      expect(more.keptHours).toEqual([]);
      expect((await store.readDays('PROJECT', '2025-09-21', ['alpha']))[0]?.hours['04:00']).toEqual(usage(5));
      const replaced = await store.applyBatch(batch([emptied], []), { replace: true });
      expect(replaced.keptHours).toEqual([]);
      expect(await store.readDays('PROJECT', '2025-09-21', ['alpha'])).toEqual([
        { ...alpha, hours: { '04:00': usage(5) }, totals: usage(5) },
      ]);
      expect((await store.readLedgerMonth('2025-09')).get(at('2025-09-21T03:00Z'))).toMatchObject({
        status: 'ok',
        instanceHours: {},
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
      await store.applyBatch(
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
      await store.applyBatch(
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

      await store.applyBatch(twice);
      const once = await readAll();
      await store.applyBatch(twice);
      expect(await readAll()).toEqual(once);
      expect(once.keys).toEqual([['alpha'], [], [], ['alice'], []]);
    });

    it('lists keys sorted, per level', async () => {
      const keys = ['b', 'B', 'a', 'Ä', '10', '9', 'a b'];
      await store.applyBatch(
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
      await store.applyBatch(
        batch(
          [okHour('2025-09-21T03:00Z'), failedHour('2025-09-21T04:00Z', 'down')],
          [],
          '2025-09-21T05:00:00Z',
        ),
      );
      expect(await store.readLedgerMonth('2025-09')).toEqual(
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
      await store.applyBatch({
        ...batch([okHour('2025-09-21T03:00Z')], []),
        instanceProjects: { 'vm-1:9100': ['alpha'], 'vm-2:9100': ['beta', 'gamma'] },
      });
      await store.applyBatch({
        ...batch([okHour('2025-09-21T04:00Z')], []),
        instanceProjects: { 'vm-1:9100': ['beta'], 'vm-3:9100': ['alpha'] },
      });
      // A batch that says nothing of instances forgets none.
      await store.applyBatch(batch([okHour('2025-09-21T05:00Z')], []));
      expect(await store.readInstanceProjects()).toEqual(
        new Map([
          ['vm-1:9100', new Set(['alpha', 'beta'])],
          ['vm-2:9100', new Set(['beta', 'gamma'])],
          ['vm-3:9100', new Set(['alpha'])],
        ]),
      );
    });

    it('is readable and closes', async () => {
      await expect(store.checkReadable()).resolves.toBeUndefined();
    });
  });
}
