import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Granularity } from '../../../../src/domain/time';
import type { DayEntry, IngestBatch } from '../../../../src/domain/usage';
import { createUsageReader } from '../../../../src/services/usage-reader';
import { readUsageSeries, type UsageSeriesView } from '../../../../src/services/usage-series';
import { openJsonStore } from '../../../../src/store/json';
import { openPostgresStore, type PostgresStore } from '../../../../src/store/postgres';
import { connectionConfig, openPool } from '../../../../src/store/postgres/connect';
import { silentLogger } from '../../../../src/log';
import { withWriter, type Store } from '../../../../src/store/store';
import { sumHours } from '../../../../src/store/rules/merge';
import { apply, at, batch, expectRollupsEqualDays, okHour, usage } from '../../../support/describe-store';
import { createTestDatabase, queryOnce, type TestDatabase } from '../../../support/postgres';

const entry = (key: string, date: string, hours: DayEntry['hours']): DayEntry => ({
  level: 'PROJECT',
  key,
  date,
  hours,
  totals: sumHours(hours),
});

/**
 * Hours on days whose day of the month is above 12 and at most 12, around midnight and the turn of
 * a month and of a year: what DMY, MDY and a zone 13 hours ahead of UTC would each misplace.
 */
const BATCHES: IngestBatch[] = [
  batch(
    [okHour('2024-12-31T23:00Z'), okHour('2025-01-01T00:00Z')],
    [
      entry('alpha', '2024-12-31', { '23:00': usage(1) }),
      entry('alpha', '2025-01-01', { '00:00': usage(2) }),
    ],
  ),
  batch(
    [okHour('2025-01-31T11:00Z'), okHour('2025-01-31T23:00Z'), okHour('2025-02-01T00:00Z')],
    [
      entry('alpha', '2025-01-31', { '11:00': usage(4), '23:00': usage(8) }),
      entry('alpha', '2025-02-01', { '00:00': usage(16) }),
      entry('beta', '2025-01-31', { '11:00': usage(32, 'LARGE') }),
    ],
  ),
  batch(
    [okHour('2025-03-12T10:00Z'), okHour('2025-12-13T12:00Z')],
    [
      entry('alpha', '2025-03-12', { '10:00': usage(64) }),
      entry('alpha', '2025-12-13', { '12:00': usage(128) }),
    ],
  ),
];

const RANGES: Array<[Granularity, string, string]> = [
  ['HOUR', '2024-12-31T00:00Z', '2025-12-31T00:00Z'],
  ['DAY', '2024-12-01T00:00Z', '2026-01-01T00:00Z'],
  ['MONTH', '2024-12-01T00:00Z', '2026-01-01T00:00Z'],
  ['YEAR', '2024-01-01T00:00Z', '2026-01-01T00:00Z'],
];

async function series(store: Store, key: string, granularity: Granularity, from: string, to: string) {
  return readUsageSeries(createUsageReader(store), 'PROJECT', key, {
    granularity,
    from: at(from),
    to: at(to),
  });
}

/** The buckets that hold something, with their status and figures: what a dashboard shows. */
const shown = (view: UsageSeriesView) =>
  view.buckets
    .filter((bucket) => bucket.status !== 'MISSING')
    .map(({ start, status, usage: figures }) => ({ start: new Date(start).toISOString(), status, figures }));

/**
 * A database, or a role, may set its own DateStyle, TimeZone and IntervalStyle (ALTER DATABASE …
 * SET): the store's connections set theirs, so neither what it writes nor what it reads depends on them.
 */
describe.each([
  ['SQL, DMY', 'Pacific/Chatham'],
  ['Postgres, MDY', 'America/St_Johns'],
  ['German, DMY', 'Asia/Kathmandu'],
])('the PostgreSQL store on a database with DateStyle %s and TimeZone %s', (dateStyle, timeZone) => {
  let database: TestDatabase;
  let store: PostgresStore;
  let reference: Store;
  let root: string;

  beforeAll(async () => {
    database = await createTestDatabase();
    await database.query(`ALTER DATABASE ${database.name} SET datestyle TO '${dateStyle}'`);
    await database.query(`ALTER DATABASE ${database.name} SET timezone TO '${timeZone}'`);
    await database.query(`ALTER DATABASE ${database.name} SET intervalstyle TO 'sql_standard'`);
    await database.query(`ALTER DATABASE ${database.name} SET extra_float_digits TO 0`);
    // A connection that sets nothing gets the database's settings: the test is of what they are.
    const [seen] = await queryOnce<{ style: string }>(database.url, 'SELECT current_setting($1) AS style', [
      'DateStyle',
    ]);
    expect(seen.style).toBe(dateStyle);
    store = await openPostgresStore({ url: database.url, readUrl: database.url });
    await apply(store, ...BATCHES);
    root = await mkdtemp(join(tmpdir(), 'carbonledger-session-settings-'));
    reference = await openJsonStore({ dataDir: join(root, 'data') });
    await apply(reference, ...BATCHES);
  });

  afterAll(async () => {
    await store?.close();
    await database?.drop();
    if (root !== undefined) await rm(root, { recursive: true, force: true });
  });

  it.each(RANGES)(
    'answers %s series as the JSON store does, every bucket equal to its hours',
    async (...range) => {
      for (const key of ['alpha', 'beta']) {
        // What the API reads: through the router (readUrl here is the primary itself, not in
        // recovery, so the router reads the primary).
        const answer = await series(store.answers(), key, ...range);
        expect(shown(answer)).toEqual(shown(await series(reference, key, ...range)));
        expect(answer.total).toEqual((await series(store, key, 'HOUR', RANGES[0][1], RANGES[0][2])).total);
      }
      const alpha = shown(await series(store, 'alpha', ...range));
      expect(
        alpha.every(({ status, figures }) => status !== 'OK' || (figures?.busyCpuSeconds ?? 0) > 0),
      ).toBe(true);
    },
  );

  it('keeps its month and year roll-ups equal to their days', async () => {
    await expectRollupsEqualDays(store, 'PROJECT', 'alpha', '2025');
    const months = await database.query<{ month: string }>(
      "SELECT to_char(month, 'YYYY-MM') AS month FROM usage_month ORDER BY month",
    );
    expect(months.map(({ month }) => month)).toEqual(
      expect.arrayContaining(['2024-12', '2025-01', '2025-02', '2025-03', '2025-12']),
    );
    expect(await database.query('SELECT year FROM usage_year WHERE year NOT IN (2024, 2025)')).toEqual([]);
  });

  it('reads its ledger, and its days, at the hours they were stored', async () => {
    const ledger = await store.readLedger(at('2024-12-31T00:00Z'), at('2026-01-01T00:00Z'));
    expect([...ledger.keys()].map((hour) => new Date(hour).toISOString())).toEqual(
      BATCHES.flatMap(({ outcomes }) => outcomes.map(({ hour }) => new Date(hour).toISOString())),
    );
    expect(await store.readDays('PROJECT', '2025-01-31', ['alpha', 'beta'])).toEqual(
      await reference.readDays('PROJECT', '2025-01-31', ['alpha', 'beta']),
    );
  });

  it('sets every connection of its pools, and of its writer, to ISO dates in UTC', async () => {
    const settings =
      "SELECT current_setting('DateStyle') AS date_style, current_setting('TimeZone') AS time_zone, current_setting('IntervalStyle') AS interval_style";
    const expected = { date_style: 'ISO, YMD', time_zone: 'UTC', interval_style: 'postgres' };
    expect((await store.pool.query(settings)).rows).toEqual([expected]);
    // The standby's pool (readUrl) is opened as the primary's is.
    const standby = openPool(database.url, { max: 1, statementTimeoutMs: 1000 }, silentLogger);
    try {
      expect((await standby.query(settings)).rows).toEqual([expected]);
    } finally {
      await standby.end();
    }
    // The writer's connection is its own: what it names as the holder's start is an instant.
    await withWriter(store, { purpose: 'a test of settings' }, async () => {
      const held = await openPostgresStore({ url: database.url, migrate: false });
      try {
        const err = await held.openWriter({ purpose: 'a second writer' }).catch((e: unknown) => e);
        expect((err as { holder?: { startedAt?: string } }).holder?.startedAt).toMatch(
          /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/,
        );
      } finally {
        await held.close();
      }
    });
  });
});

describe('connectionConfig', () => {
  const ours = '-c DateStyle=ISO,YMD -c TimeZone=UTC -c IntervalStyle=postgres -c extra_float_digits=1';

  it('gives each connection the settings as startup options, after those the URL gives', () => {
    expect(connectionConfig('postgres://u:p@db:5432/ledger')).toEqual({
      connectionString: 'postgres://u:p@db:5432/ledger',
      options: ours,
    });
    expect(
      connectionConfig(
        'postgres://u@db/ledger?sslmode=require&options=-c%20work_mem%3D8MB&application_name=x',
      ),
    ).toEqual({
      connectionString: 'postgres://u@db/ledger?sslmode=require&application_name=x',
      options: `-c work_mem=8MB ${ours}`,
    });
    expect(connectionConfig('postgres://u@/ledger?options=-c+search_path%3Dcl')).toEqual({
      connectionString: 'postgres://u@/ledger',
      options: `-c search_path=cl ${ours}`,
    });
  });

  it("keeps what a URL's options set, but not DateStyle or TimeZone", async () => {
    const database = await createTestDatabase();
    const url = `${database.url}?options=${encodeURIComponent('-c work_mem=7MB -c DateStyle=SQL,DMY -c TimeZone=Pacific/Chatham')}`;
    const store = await openPostgresStore({ url });
    try {
      const { rows } = await store.pool.query(
        "SELECT current_setting('work_mem') AS work_mem, current_setting('DateStyle') AS date_style, current_setting('TimeZone') AS time_zone",
      );
      expect(rows).toEqual([{ work_mem: '7MB', date_style: 'ISO, YMD', time_zone: 'UTC' }]);
    } finally {
      await store.close();
      await database.drop();
    }
  });
});
