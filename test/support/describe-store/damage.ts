import type { Breakdown } from '../../../src/domain/figures';
import type { Level } from '../../../src/domain/levels';
import { FAILED, type DayEntry, type MonthRollup, type YearRollup } from '../../../src/domain/usage';
import { sumHours } from '../../../src/store/rules/merge';
import { PartialReadError, UnreadableDataError } from '../../../src/store/store';
import {
  NO_USAGE,
  apply,
  at,
  batch,
  expectRollupsEqualDays,
  okHour,
  usage,
  type StoreContext,
} from './fixtures';

const day = (key: string, hours: DayEntry['hours'], totals: Breakdown, date = '2025-09-21'): DayEntry => ({
  level: 'PROJECT',
  key,
  date,
  hours,
  totals,
});

/** Expects a read of beta and alpha to answer beta and name alpha's `period` as unreadable. */
async function expectReadAround<T>(read: Promise<Array<T | null>>, level: Level, period: string): Promise<T> {
  const partial = await read.catch((err: unknown) => err);
  expect(partial).toBeInstanceOf(PartialReadError);
  const [beta, alpha] = (partial as PartialReadError<T>).results;
  expect(alpha).toBeInstanceOf(UnreadableDataError);
  expect(alpha).toMatchObject({ level, key: 'alpha', period });
  return beta as T;
}

/**
 * The shared suite's cases of damaged records (describeStore): read around, never fatal to a
 * batch, and set aside by the writer. `current` gives the test's store and fixture.
 */
export function describeStoreDamage(current: () => StoreContext): void {
  const damagedHours = [okHour('2025-09-21T03:00Z'), okHour('2025-09-21T04:00Z')];
  const damagedEntries = [
    day('alpha', { '03:00': usage(1), '04:00': usage(2) }, usage(3)),
    day('beta', { '04:00': usage(4) }, usage(4)),
  ];

  it('reads the keys it can when a record is damaged, and a batch moves it aside, failing its hours', async () => {
    const { store, fixture } = current();
    const hours = damagedHours;
    const entries = damagedEntries;
    await apply(store, batch(damagedHours, damagedEntries));
    await fixture.damageDay!('PROJECT', 'alpha', '2025-09-21');
    const beta = await expectReadAround(
      store.readDays('PROJECT', '2025-09-21', ['beta', 'alpha']),
      'PROJECT',
      '2025-09-21',
    );
    expect(beta).toEqual(damagedEntries[1]);
    // Asked for `all` alone, the damaged record is just as unreadable.
    const betaAll = await expectReadAround(
      store.readDays('PROJECT', '2025-09-21', ['beta', 'alpha'], { byMachine: false }),
      'PROJECT',
      '2025-09-21',
    );
    expect(betaAll.totals.all).toEqual(damagedEntries[1].totals.all);

    // Any batch deals with it: the day's hours are failed, and no reader sees a figure of them.
    await apply(store, batch([okHour('2025-09-22T00:00Z')], []));
    const ledger = await store.readLedger(at('2025-09-21T03:00Z'), at('2025-09-21T05:00Z'));
    expect([...ledger.values()].map((record) => record.status)).toEqual(['failed', 'failed']);
    const [betaAfter, alphaAfter] = await store.readDays('PROJECT', '2025-09-21', ['beta', 'alpha']);
    expect(betaAfter).toEqual(day('beta', { '04:00': FAILED }, NO_USAGE));
    expect(alphaAfter === null || alphaAfter.totals.all.busyKwh === 0).toBe(true);
    for (const key of ['alpha', 'beta']) await expectRollupsEqualDays(store, 'PROJECT', key, '2025');

    // Ingesting the day again restores it.
    await apply(store, batch(hours, entries));
    expect(await store.readDays('PROJECT', '2025-09-21', ['alpha', 'beta'])).toEqual(entries);
    for (const key of ['alpha', 'beta']) await expectRollupsEqualDays(store, 'PROJECT', key, '2025');
  });

  it('reads around a damaged month and year roll-up; a batch of that year sets them aside and rebuilds them', async () => {
    const { store, fixture } = current();
    const september = [
      day('alpha', { '03:00': usage(1) }, usage(1)),
      day('beta', { '03:00': usage(4) }, usage(4)),
    ];
    const october = day('alpha', { '03:00': usage(2) }, usage(2), '2025-10-01');
    await apply(
      store,
      batch([okHour('2025-09-21T03:00Z')], september),
      batch([okHour('2025-10-01T03:00Z')], [october]),
    );
    await fixture.damageRollup!('PROJECT', 'alpha', '2025-09');
    await fixture.damageRollup!('PROJECT', 'alpha', '2025');
    const month = await expectReadAround<MonthRollup>(
      store.readMonths('PROJECT', '2025-09', ['beta', 'alpha']),
      'PROJECT',
      '2025-09',
    );
    expect(month.totals).toEqual(usage(4));
    const year = await expectReadAround<YearRollup>(
      store.readYears('PROJECT', '2025', ['beta', 'alpha']),
      'PROJECT',
      '2025',
    );
    expect(year.totals).toEqual(usage(4));

    // A batch of another month rebuilds the year from its months, the damaged one among them.
    const later = { '05:00': usage(3) };
    await apply(
      store,
      batch([okHour('2025-10-02T05:00Z')], [day('alpha', later, sumHours(later), '2025-10-02')]),
    );
    // No hour is lost or lowered; every roll-up equals its days again.
    expect(await store.readDays('PROJECT', '2025-09-21', ['alpha', 'beta'])).toEqual(september);
    expect(await store.readDays('PROJECT', '2025-10-01', ['alpha'])).toEqual([october]);
    for (const key of ['alpha', 'beta']) await expectRollupsEqualDays(store, 'PROJECT', key, '2025');
    expect((await store.readYears('PROJECT', '2025', ['alpha']))[0]?.totals).toEqual(usage(6));
    expect((await fixture.rollupsSetAside!()).sort()).toEqual([
      'month PROJECT alpha 2025-09',
      'year PROJECT alpha 2025',
    ]);
  });
}
