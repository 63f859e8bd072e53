import { LEVELS } from '../../../src/domain/levels';
import type { DayEntry, LedgerHour } from '../../../src/domain/usage';
import { InvalidBatchError } from '../../../src/store/store';
import {
  OK_LEDGER_HOUR,
  apply,
  at,
  batch,
  failedHour,
  ledgerMonth,
  okHour,
  usage,
  type StoreContext,
} from './fixtures';

/** The shared suite (describeStore): keys per level, instances' projects, the ledger, and batches refused. */
export function describeKeysAndLedger(current: () => StoreContext): void {
  it('lists keys sorted, per level', async () => {
    const { store } = current();
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
    const { store } = current();
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
    const { store } = current();
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
    const { store } = current();
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
    const { store } = current();
    await apply(store, batch([okHour('2025-09-30T23:00Z'), failedHour('2025-10-01T00:00Z', 'down')], []));
    const [from, to] = [at('2025-09-30T22:00Z'), at('2025-10-01T02:00Z')];
    const records = await store.readLedger(from, to);
    const statuses = new Map([...records].map(([hour, record]) => [hour, record.status]));
    expect([...statuses.values()]).toEqual(['ok', 'failed']);
    if (store.readLedgerStatuses) expect(await store.readLedgerStatuses(from, to)).toEqual(statuses);
  });

  it('rejects a batch that contradicts itself, writing nothing', async () => {
    const { store } = current();
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
}
