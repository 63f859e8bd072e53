import { FAILED, type DayEntry } from '../../../src/domain/usage';
import {
  OK_LEDGER_HOUR,
  allFigures,
  apply,
  at,
  batch,
  expectBreakdownClose,
  expectRollupsEqualDays,
  figures,
  ledgerMonth,
  okHour,
  usage,
  type StoreContext,
} from './fixtures';

/** The shared suite (describeStore): days, months and years read back, and roll-ups across UTC edges. */
export function describeReads(current: () => StoreContext): void {
  it('reads back days, months and years at several levels, in the order of the keys asked', async () => {
    const { store } = current();
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
    const outcomes = [okHour('2025-09-21T03:00Z'), okHour('2025-09-21T04:00Z'), okHour('2025-09-22T00:00Z')];
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
        hours: Object.entries(entry.hours).map(([label, hour]) => [label, hour === FAILED ? hour : hour.all]),
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
    const { store } = current();
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
    const { store } = current();
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
}
