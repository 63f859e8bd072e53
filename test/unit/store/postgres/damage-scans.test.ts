import pg from 'pg';
import { openPostgresStore } from '../../../../src/store/postgres';
import { withIndexScans } from '../../../../src/store/postgres/connect';
import { DAMAGED_HOURS } from '../../../../src/store/postgres/damage';
import { DAMAGED_ROLLUPS } from '../../../../src/store/postgres/rollup-damage';
import { createTestDatabase, type TestDatabase } from '../../../support/postgres';

/** The tables a plan reads every row of. */
function seqScanned(plan: unknown): string[] {
  const node = plan as { 'Node Type'?: string; 'Relation Name'?: string; Plans?: unknown[] };
  const own = node['Node Type'] === 'Seq Scan' ? [node['Relation Name'] ?? '?'] : [];
  return [...own, ...(node.Plans ?? []).flatMap(seqScanned)];
}

describe('the scans for damaged rows', () => {
  let database: TestDatabase;
  let client: pg.Client;

  beforeAll(async () => {
    database = await createTestDatabase();
    const store = await openPostgresStore({ url: database.url });
    await store.close();
    client = new pg.Client({ connectionString: database.url });
    await client.connect();
    // Two years of days, months and years of 500 keys: sound rows the scans must not read.
    await client.query(`INSERT INTO usage_key (level, key)
      SELECT 'INSTANCE', 'vm-' || i FROM generate_series(1, 500) AS i`);
    const figures = `'\\x${'00'.repeat(16)}'::bytea`;
    await client.query(`INSERT INTO usage_day (key_id, day, machines, figures)
      SELECT k.id, d::date, '{SMALL}', ${figures} FROM usage_key k,
        generate_series('2024-01-01'::date, '2025-12-31'::date, '1 day') AS d`);
    await client.query(`INSERT INTO usage_month (key_id, month, machines, figures)
      SELECT k.id, d::date, '{SMALL}', ${figures} FROM usage_key k,
        generate_series('2024-01-01'::date, '2025-12-01'::date, '1 month') AS d`);
    await client.query('ANALYZE');
  });

  afterAll(async () => {
    await client.end();
    await database.drop();
  });

  async function planOf(sql: string): Promise<unknown> {
    await client.query('BEGIN');
    try {
      const { rows } = await withIndexScans(client, () =>
        client.query<{ 'QUERY PLAN': Array<{ Plan: unknown }> }>(`EXPLAIN (FORMAT JSON) ${sql}`),
      );
      return rows[0]['QUERY PLAN'][0].Plan;
    } finally {
      await client.query('ROLLBACK');
    }
  }

  it('answer from the partial indexes, never reading every roll-up or hour row', async () => {
    expect(seqScanned(await planOf(DAMAGED_ROLLUPS)).filter((table) => table.startsWith('usage_'))).toEqual(
      [],
    );
    expect(seqScanned(await planOf(DAMAGED_HOURS)).filter((table) => table.startsWith('usage_'))).toEqual([]);
  });

  it('leave the planner as they found it', async () => {
    await client.query('BEGIN');
    try {
      await withIndexScans(client, () => client.query('SELECT 1'));
      const { rows } = await client.query<{ setting: string }>(
        "SELECT current_setting('enable_seqscan') AS setting",
      );
      expect(rows[0].setting).toBe('on');
    } finally {
      await client.query('ROLLBACK');
    }
  });
});
