import pg from 'pg';
import type { DayEntry } from '../../../../src/domain/usage';
import { openPostgresStore, PostgresStore } from '../../../../src/store/postgres';
import { PartialReadError, UnreadableDataError } from '../../../../src/store/store';
import { batch, failedHour, okHour, usage, apply } from '../../../support/describe-store';
import { createTestDatabase, type TestDatabase } from '../../../support/postgres';

const HOURS_2025 = 8760;

function yearOfHours(key: string): { outcomes: ReturnType<typeof okHour>[]; entries: DayEntry[] } {
  const outcomes = [];
  const entries: DayEntry[] = [];
  for (let day = 0; day < HOURS_2025 / 24; day++) {
    const date = new Date(Date.UTC(2025, 0, 1 + day)).toISOString().slice(0, 10);
    const hours: DayEntry['hours'] = {};
    for (let h = 0; h < 24; h++) {
      const label = `${String(h).padStart(2, '0')}:00`;
      outcomes.push(okHour(`${date}T${label}Z`));
      hours[label] = usage(1);
    }
    entries.push({ level: 'PROJECT', key, date, hours, totals: usage(24) });
  }
  return { outcomes, entries };
}

describe('PostgresStore', () => {
  let database: TestDatabase;
  let store: PostgresStore;

  beforeEach(async () => {
    database = await createTestDatabase();
    store = await openPostgresStore({ url: database.url });
  });

  afterEach(async () => {
    await store.close();
    await database.drop();
  });

  it('answers the 365 day reads of a year of hours with one range query', async () => {
    const { outcomes, entries } = yearOfHours('alpha');
    await apply(store, batch(outcomes, entries));
    const statements: string[] = [];
    const counted = new pg.Pool({ connectionString: database.url, max: 2 });
    type Statement = string | { text: string };
    const query = counted.query.bind(counted) as (text: Statement, values?: unknown[]) => Promise<unknown>;
    counted.query = ((text: Statement, values?: unknown[]) => {
      statements.push(typeof text === 'string' ? text : text.text);
      return query(text, values);
    }) as typeof counted.query;
    const reader = new PostgresStore(counted, counted);
    try {
      const days = await Promise.all(
        entries.map((entry) => reader.readDays('PROJECT', entry.date, ['alpha'])),
      );
      expect(days.map(([day]) => day)).toEqual(entries);
      expect(statements.filter((text) => /usage_hour/.test(text))).toHaveLength(1);
    } finally {
      await counted.end();
    }
  });

  it('rolls up the months and years of more keys than it sums at a time, every one equal to its days', async () => {
    // 450 keys: three groups of keys summed apart (200 at a time), the last one short.
    const keys = Array.from({ length: 450 }, (_, i) => `p${String(i).padStart(3, '0')}`);
    const day = (key: string, date: string, n: number): DayEntry => ({
      level: 'PROJECT',
      key,
      date,
      hours: { '05:00': usage(n) },
      totals: usage(n),
    });
    await apply(
      store,
      batch(
        [okHour('2025-09-29T05:00Z')],
        keys.map((key, i) => day(key, '2025-09-29', i + 1)),
      ),
      batch(
        [okHour('2025-09-30T05:00Z')],
        keys.map((key, i) => day(key, '2025-09-30', 2 * (i + 1))),
      ),
    );
    const months = await store.readMonths('PROJECT', '2025-09', keys);
    expect(months.map((month) => month?.totals)).toEqual(keys.map((_, i) => usage(3 * (i + 1))));
    const years = await store.readYears('PROJECT', '2025', keys);
    expect(years.map((year) => year?.totals)).toEqual(keys.map((_, i) => usage(3 * (i + 1))));
  });

  it('names the writer of its own database when another store on the server holds its writer too', async () => {
    const neighbour = await createTestDatabase();
    const neighbourStore = await openPostgresStore({ url: neighbour.url });
    try {
      const theirs = await neighbourStore.openWriter({ purpose: 'the neighbour' });
      const ours = await store.openWriter({ purpose: 'our writer' });
      const refused = store.openWriter({ purpose: 'a second writer' });
      await expect(refused).rejects.toThrow('our writer');
      await expect(refused).rejects.not.toThrow('the neighbour');
      await ours.release();
      await theirs.release();
    } finally {
      await neighbourStore.close();
      await neighbour.drop();
    }
  });

  it('keeps hours in monthly partitions, so a month of old hours goes with DROP TABLE', async () => {
    const { outcomes, entries } = yearOfHours('alpha');
    await apply(store, batch(outcomes, entries));
    const partitions = await database.query<{ name: string; rows: number }>(`
      SELECT c.relname AS name, (SELECT count(*) FROM usage_hour h WHERE h.tableoid = c.oid)::int AS rows
      FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
      WHERE i.inhparent = 'usage_hour'::regclass ORDER BY 1`);
    expect(partitions.map((p) => p.name)).toEqual(
      Array.from({ length: 12 }, (_, m) => `usage_hour_p2025_${String(m + 1).padStart(2, '0')}`),
    );
    expect(partitions.find((p) => p.name === 'usage_hour_p2025_02')?.rows).toBe(28 * 24);
    await database.query(`DROP TABLE usage_hour_p2025_01`);
    expect(await store.readDays('PROJECT', '2025-01-15', ['alpha'])).toEqual([null]);
    expect((await store.readDays('PROJECT', '2025-02-15', ['alpha']))[0]?.totals).toEqual(usage(24));
  });

  it('applies a batch whole or not at all: a statement failing part-way leaves every row as it was', async () => {
    const first = batch(
      [okHour('2025-09-21T03:00Z')],
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
    await apply(store, first);
    const snapshot = async () => ({
      hours: await database.query(
        `SELECT key_id, hour, failed, machines, figures FROM usage_hour ORDER BY 1, 2`,
      ),
      days: await database.query(`SELECT * FROM usage_day ORDER BY 1, 2`),
      months: await database.query(`SELECT * FROM usage_month ORDER BY 1, 2`),
      ledger: await database.query(`SELECT * FROM ledger_hour ORDER BY 1`),
      keys: await database.query(`SELECT * FROM usage_key ORDER BY 1`),
      version: await database.query(`SELECT version FROM store_version`),
    });
    const before = await snapshot();
    // The year roll-ups are the last usage written: fail there, after the hours, days and months.
    await database.query(`
      CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'disk full'; END $$;
      CREATE TRIGGER refuse BEFORE INSERT ON usage_year FOR EACH ROW EXECUTE FUNCTION refuse();`);
    const second = batch(
      [okHour('2025-09-21T03:00Z'), okHour('2025-09-21T04:00Z'), failedHour('2025-09-21T05:00Z', 'down')],
      [
        {
          level: 'PROJECT',
          key: 'alpha',
          date: '2025-09-21',
          hours: { '03:00': usage(5), '04:00': usage(2) },
          totals: usage(7),
        },
        { level: 'USER', key: 'bob', date: '2025-09-21', hours: { '04:00': usage(2) }, totals: usage(2) },
      ],
    );
    await expect(apply(store, second)).rejects.toThrow('disk full');
    expect(await snapshot()).toEqual(before);
    await database.query(`DROP TRIGGER refuse ON usage_year`);
    await apply(store, second);
    expect((await store.readDays('PROJECT', '2025-09-21', ['alpha']))[0]?.totals).toEqual(usage(7));
  });

  it('fails only the key whose stored row is damaged, answering the others', async () => {
    await apply(
      store,
      batch(
        [okHour('2025-09-21T03:00Z')],
        ['alpha', 'beta'].map((key) => ({
          level: 'PROJECT' as const,
          key,
          date: '2025-09-21',
          hours: { '03:00': usage(1) },
          totals: usage(1),
        })),
      ),
    );
    await database.query(`
      UPDATE usage_hour SET figures = '\\x0102'::bytea FROM usage_key k
      WHERE k.id = usage_hour.key_id AND k.key = 'beta'`);
    const read = store.readDays('PROJECT', '2025-09-21', ['alpha', 'beta']);
    await expect(read).rejects.toBeInstanceOf(PartialReadError);
    const results = (await read.catch((error: PartialReadError<DayEntry>) => error.results)) as unknown[];
    expect((results[0] as DayEntry).totals).toEqual(usage(1));
    expect(results[1]).toBeInstanceOf(UnreadableDataError);
  });

  it('gives another replica a new version within a second or so of a commit', async () => {
    const other = await openPostgresStore({ url: database.url });
    try {
      const before = await other.version();
      expect(before).toEqual(await store.version());
      await apply(store, batch([okHour('2025-09-21T03:00Z')], []));
      let after = await other.version();
      for (let i = 0; i < 40 && after === before; i++) {
        await new Promise((resolve) => setTimeout(resolve, 100));
        after = await other.version();
      }
      expect(after).not.toEqual(before);
      expect(after).toBeDefined();
    } finally {
      await other.close();
    }
  });
});
