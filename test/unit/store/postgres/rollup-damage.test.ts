import type { DayEntry } from '../../../../src/domain/usage';
import { FAILED } from '../../../../src/domain/usage';
import { jsonLogger } from '../../../../src/log';
import { openPostgresStore, pruneBefore, type PostgresStore } from '../../../../src/store/postgres';
import { PartialReadError, UnreadableDataError } from '../../../../src/store/store';
import { sumHours } from '../../../../src/store/rules/merge';
import { apply, at, batch, okHour, usage } from '../../../support/describe-store';
import { createTestDatabase, type TestDatabase } from '../../../support/postgres';

const entry = (key: string, date: string, hours: DayEntry['hours']): DayEntry => ({
  level: 'PROJECT',
  key,
  date,
  hours,
  totals: sumHours(hours),
});

/** Day totals (usage_day) have no file of their own in the JSON store: their damage is PostgreSQL's. */
describe('PostgreSQL writer and undecodable day totals', () => {
  let database: TestDatabase;
  let store: PostgresStore;
  const logged: Array<Record<string, unknown>> = [];
  const alpha21 = entry('alpha', '2025-09-21', { '03:00': usage(1), '04:00': usage(2) });
  const beta21 = entry('beta', '2025-09-21', { '04:00': usage(4) });

  beforeEach(async () => {
    logged.length = 0;
    database = await createTestDatabase();
    store = await openPostgresStore({
      url: database.url,
      log: jsonLogger((line) => logged.push(JSON.parse(line) as Record<string, unknown>)),
    });
    await apply(store, batch([okHour('2025-09-21T03:00Z'), okHour('2025-09-21T04:00Z')], [alpha21, beta21]));
    await database.query(
      `UPDATE usage_day d SET figures = '\\x'::bytea FROM usage_key k
       WHERE d.key_id = k.id AND k.key = 'alpha' AND d.day = '2025-09-21'`,
    );
  });

  afterEach(async () => {
    await store.close();
    await database.drop();
  });

  it('is read around, and a batch of its month sets it aside, logs it and rebuilds it from its hours', async () => {
    // The day reads from its hours; the month, which sums the day totals, names alpha.
    expect(await store.readDays('PROJECT', '2025-09-21', ['alpha'])).toEqual([alpha21]);
    const partial = await store
      .readMonths('PROJECT', '2025-09', ['beta', 'alpha'])
      .catch((err: unknown) => err);
    expect(partial).toBeInstanceOf(PartialReadError);
    const [beta, alpha] = (partial as PartialReadError<unknown>).results;
    expect(beta).toMatchObject({ key: 'beta', totals: usage(4) });
    expect(alpha).toEqual(new UnreadableDataError('PROJECT', 'alpha', '2025-09'));

    const alpha22 = entry('alpha', '2025-09-22', { '00:00': usage(5) });
    await apply(store, batch([okHour('2025-09-22T00:00Z')], [alpha22]));

    expect(await store.readDays('PROJECT', '2025-09-21', ['alpha', 'beta'])).toEqual([alpha21, beta21]);
    const [month] = await store.readMonths('PROJECT', '2025-09', ['alpha']);
    expect(month?.days).toEqual({ '2025-09-21': usage(3), '2025-09-22': usage(5) });
    expect(month?.totals).toEqual(usage(8));
    expect((await store.readYears('PROJECT', '2025', ['alpha']))[0]?.totals).toEqual(usage(8));
    const kept = await database.query<{ kind: string; period: string; figures: Buffer; reason: string }>(
      'SELECT kind, period, figures, reason FROM usage_rollup_set_aside',
    );
    expect(kept).toEqual([
      {
        kind: 'day',
        period: '2025-09-21',
        figures: Buffer.alloc(0),
        reason: expect.stringMatching(/day roll-up of PROJECT "alpha" for 2025-09-21 .*0 bytes of figures/),
      },
    ]);
    expect(logged.filter((line) => line.level === 'warn')).toEqual([
      expect.objectContaining({
        msg: 'set aside the undecodable day roll-up of PROJECT "alpha" for 2025-09-21: it is rebuilt from its hours',
        keyLevel: 'PROJECT',
        key: 'alpha',
        period: '2025-09-21',
        reason: '0 bytes of figures for 2 parts',
      }),
    ]);
  });

  it('is forgotten with its month by prune', async () => {
    await apply(store, batch([okHour('2025-10-01T00:00Z')], []));
    expect(await database.query('SELECT kind FROM usage_rollup_set_aside')).toEqual([{ kind: 'day' }]);
    await pruneBefore(store.pool, '2025-09');
    expect(await database.query('SELECT kind FROM usage_rollup_set_aside')).toEqual([{ kind: 'day' }]);
    await pruneBefore(store.pool, '2025-10');
    expect(await database.query('SELECT kind FROM usage_rollup_set_aside')).toEqual([]);
  });

  it('is rebuilt after an undecodable hour of the same day is failed, counting that hour nowhere', async () => {
    await database.query(
      `UPDATE usage_hour h SET figures = '\\x01'::bytea FROM usage_key k
       WHERE h.key_id = k.id AND k.key = 'alpha' AND h.hour = '2025-09-21T04:00Z'`,
    );
    await apply(store, batch([okHour('2025-10-01T00:00Z')], []));

    expect(await store.readDays('PROJECT', '2025-09-21', ['alpha', 'beta'])).toEqual([
      entry('alpha', '2025-09-21', { '03:00': usage(1), '04:00': FAILED }),
      entry('beta', '2025-09-21', { '04:00': FAILED }),
    ]);
    expect((await store.readYears('PROJECT', '2025', ['alpha']))[0]?.totals).toEqual(usage(1));
    expect(
      (await store.readLedger(at('2025-09-21T04:00Z'), at('2025-09-21T05:00Z'))).get(at('2025-09-21T04:00Z')),
    ).toMatchObject({ status: 'failed' });
    expect(await database.query('SELECT kind, period FROM usage_rollup_set_aside')).toEqual([
      { kind: 'day', period: '2025-09-21' },
    ]);
  });

  it('finds damaged roll-ups through an index of their own on each roll-up table', async () => {
    const indexes = await database.query<{ indexname: string }>(
      `SELECT indexname FROM pg_indexes WHERE indexname LIKE 'usage\\_%\\_undecodable' ORDER BY 1`,
    );
    expect(indexes.map(({ indexname }) => indexname)).toEqual([
      'usage_day_undecodable',
      'usage_hour_undecodable',
      'usage_month_undecodable',
      'usage_year_undecodable',
    ]);
  });
});
