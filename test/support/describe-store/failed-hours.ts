import type { Level } from '../../../src/domain/levels';
import { FAILED, type DayEntry } from '../../../src/domain/usage';
import {
  NO_USAGE,
  OK_LEDGER_HOUR,
  apply,
  at,
  batch,
  expectRollupsEqualDays,
  failedHour,
  ledgerMonth,
  okHour,
  usage,
  type StoreContext,
} from './fixtures';

/** The shared suite (describeStore): failed hours marked in every known key, replaced when they succeed. */
export function describeFailedHours(current: () => StoreContext): void {
  /** Known keys at every level on 2025-09-21 03:00, and `beta` known from the day before. */
  async function storeWithKnownKeys(): Promise<void> {
    const { store } = current();
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
    const { store } = current();
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
    const { store } = current();
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
    const { store } = current();
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
    for (const key of ['alpha', 'beta', 'gamma']) await expectRollupsEqualDays(store, 'PROJECT', key, '2025');
    expect((await ledgerMonth(store, '2025-09')).get(at('2025-09-21T06:00Z'))).toEqual(OK_LEDGER_HOUR);
  });

  it('keeps the figures and ok status of an hour that later fails, recording only the attempt', async () => {
    const { store } = current();
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
}
