import type { DayEntry } from '../../../../src/domain/usage';
import { FAILED } from '../../../../src/domain/usage';
import { openPostgresStore, type PostgresStore } from '../../../../src/store/postgres';
import { decodeBreakdown } from '../../../../src/store/postgres/codec';
import { sumHours } from '../../../../src/store/rules/merge';
import { apply, at, batch, failedHour, okHour, usage } from '../../../support/describe-store';
import { createTestDatabase, type TestDatabase } from '../../../support/postgres';

const entry = (level: DayEntry['level'], key: string, hours: DayEntry['hours']): DayEntry => ({
  level,
  key,
  date: '2025-09-21',
  hours,
  totals: sumHours(hours),
});

describe('PostgreSQL writer and undecodable hour rows', () => {
  let database: TestDatabase;
  let store: PostgresStore;

  beforeEach(async () => {
    database = await createTestDatabase();
    store = await openPostgresStore({ url: database.url });
    await apply(
      store,
      batch(
        [okHour('2025-09-21T03:00Z'), okHour('2025-09-21T04:00Z')],
        [
          entry('PROJECT', 'alpha', { '03:00': usage(1), '04:00': usage(2) }),
          entry('USER', 'bob', { '03:00': usage(5), '04:00': usage(6) }),
        ],
      ),
    );
  });

  afterEach(async () => {
    await store.close();
    await database.drop();
  });

  const damage = (key: string, hour: string, figures: string) =>
    database.query(
      `UPDATE usage_hour h SET figures = $3::bytea FROM usage_key k
       WHERE h.key_id = k.id AND k.key = $1 AND h.hour = $2`,
      [key, hour, figures],
    );

  it('fails a damaged hour at every level in a batch of other hours, keeping every row it took out', async () => {
    await damage('alpha', '2025-09-21T04:00Z', '\\x0102');
    await apply(store, batch([okHour('2025-09-22T00:00Z')], []));

    const ledger = await store.readLedger(at('2025-09-21T03:00Z'), at('2025-09-21T05:00Z'));
    expect(ledger.get(at('2025-09-21T03:00Z'))?.status).toBe('ok');
    const failed = ledger.get(at('2025-09-21T04:00Z'));
    expect(failed).toMatchObject({ status: 'failed', attempts: 0 });
    expect(failed?.status === 'failed' && failed.error).toMatch(
      /PROJECT "alpha" .*could not be read \(2 bytes of figures for 2 parts\).*ingest 2025-09-21 again/,
    );
    // The other hour of the day, and the other level, keep what they hold; the damaged hour counts nowhere.
    expect(await store.readDays('PROJECT', '2025-09-21', ['alpha'])).toEqual([
      entry('PROJECT', 'alpha', { '03:00': usage(1), '04:00': FAILED }),
    ]);
    expect(await store.readDays('USER', '2025-09-21', ['bob'])).toEqual([
      entry('USER', 'bob', { '03:00': usage(5), '04:00': FAILED }),
    ]);
    expect((await store.readYears('USER', '2025', ['bob']))[0]?.totals).toEqual(usage(5));

    const setAside = await database.query<{
      key: string;
      undecodable: boolean;
      figures: Buffer;
      machines: string[];
    }>(
      `SELECT k.key, s.undecodable, s.figures, s.machines FROM usage_hour_set_aside s
       JOIN usage_key k ON k.id = s.key_id ORDER BY k.key`,
    );
    expect(setAside.map(({ key, undecodable }) => [key, undecodable])).toEqual([
      ['alpha', true],
      ['bob', false],
    ]);
    expect(decodeBreakdown(setAside[1])).toEqual(usage(6));

    // Nothing is left to take out: the next batch changes nothing of that day.
    const version = await store.version();
    await apply(store, batch([okHour('2025-09-22T01:00Z')], []));
    expect(await store.readDays('USER', '2025-09-21', ['bob'])).toEqual([
      entry('USER', 'bob', { '03:00': usage(5), '04:00': FAILED }),
    ]);
    expect(await database.query('SELECT count(*)::int AS n FROM usage_hour_set_aside')).toEqual([{ n: 2 }]);
    expect(await store.version()).not.toEqual(version);
  });

  it('takes the damaged hour out of a batch that retries it and fails, and one that answers it restores it', async () => {
    await damage('alpha', '2025-09-21T03:00Z', '\\x');
    await apply(store, batch([failedHour('2025-09-21T03:00Z', 'Prometheus is down')], []));
    expect(
      (await store.readLedger(at('2025-09-21T03:00Z'), at('2025-09-21T04:00Z'))).get(at('2025-09-21T03:00Z')),
    ).toMatchObject({ status: 'failed', error: 'Prometheus is down' });
    expect(await store.readDays('PROJECT', '2025-09-21', ['alpha'])).toEqual([
      entry('PROJECT', 'alpha', { '03:00': FAILED, '04:00': usage(2) }),
    ]);

    await apply(
      store,
      batch([okHour('2025-09-21T03:00Z')], [entry('PROJECT', 'alpha', { '03:00': usage(7) })]),
    );
    expect(await store.readDays('PROJECT', '2025-09-21', ['alpha', 'bob'])).toEqual([
      entry('PROJECT', 'alpha', { '03:00': usage(7), '04:00': usage(2) }),
      null,
    ]);
    expect(await store.readDays('USER', '2025-09-21', ['bob'])).toEqual([
      entry('USER', 'bob', { '04:00': usage(6) }),
    ]);
  });

  it('finds damaged rows through an index of their own in every partition, new ones included', async () => {
    await apply(store, batch([okHour('2026-03-01T00:00Z')], []));
    const indexed = await database.query<{ partition: string }>(
      `SELECT c.relname AS partition FROM pg_inherits i
       JOIN pg_class c ON c.oid = i.inhrelid
       JOIN pg_index x ON x.indrelid = c.oid AND x.indpred IS NOT NULL
       WHERE i.inhparent = 'usage_hour'::regclass ORDER BY 1`,
    );
    expect(indexed.map(({ partition }) => partition)).toEqual(['usage_hour_p2025_09', 'usage_hour_p2026_03']);
  });
});
