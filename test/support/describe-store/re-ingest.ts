import type { Breakdown } from '../../../src/domain/figures';
import { LEVELS, type Level } from '../../../src/domain/levels';
import type { DayEntry, HourOutcome } from '../../../src/domain/usage';
import {
  STATIC_INTENSITY,
  apply,
  applyOne,
  at,
  batch,
  failedHour,
  ledgerMonth,
  okHour,
  usage,
  type StoreContext,
} from './fixtures';

/** The shared suite (describeStore): an hour ingested again, kept when its answer is thinner. */
export function describeReingest(current: () => StoreContext): void {
  it('keeps an ok hour whose new answer has fewer instance-hours, unless told to replace it', async () => {
    const { store } = current();
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
    const { store } = current();
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
    const { store } = current();
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
    const { store } = current();
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
}
