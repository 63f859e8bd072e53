import { jsonLogger, silentLogger } from '../../../../src/log';
import { migrate, MIGRATIONS, openPostgresStore, SchemaTooNewError } from '../../../../src/store/postgres';
import { zeroFigures, type Breakdown } from '../../../../src/domain/figures';
import { openPool } from '../../../../src/store/postgres/connect';
import { postgresProjectUsers } from '../../../../src/store/postgres/project-users';
import { createTestDatabase, queryOnce, SERVER_URL, type TestDatabase } from '../../../support/postgres';

describe('postgres migrations', () => {
  let database: TestDatabase;

  beforeEach(async () => {
    database = await createTestDatabase();
  });

  afterEach(() => database.drop());

  it('bring an empty database to the newest version once, however many replicas start together', async () => {
    const pools = [1, 2, 3].map(() =>
      openPool(database.url, { max: 1, statementTimeoutMs: 30_000 }, silentLogger),
    );
    try {
      const applied = await Promise.all(pools.map((pool) => migrate(pool, silentLogger)));
      expect(applied.flat()).toEqual(MIGRATIONS.map((migration) => migration.version));
      expect(await migrate(pools[0], silentLogger)).toEqual([]);
      const rows = await database.query<{ version: number }>(
        'SELECT version FROM schema_migration ORDER BY 1',
      );
      expect(rows.map((row) => row.version)).toEqual(MIGRATIONS.map((migration) => migration.version));
    } finally {
      await Promise.all(pools.map((pool) => pool.end()));
    }
  });

  it('apply a new step on the next start: a failing step leaves the version', async () => {
    const pool = openPool(database.url, { max: 1, statementTimeoutMs: 30_000 }, silentLogger);
    try {
      await migrate(pool, silentLogger);
      const next = MIGRATIONS.at(-1)!.version + 1;
      const broken = [
        ...MIGRATIONS,
        { version: next, name: 'broken', sql: 'CREATE TABLE x (a int); SELECT 1/0' },
      ];
      await expect(migrate(pool, silentLogger, broken)).rejects.toThrow('division by zero');
      expect(await database.query("SELECT to_regclass('x') AS x")).toEqual([{ x: null }]);
      const good = [...MIGRATIONS, { version: next, name: 'more', sql: 'CREATE TABLE x (a int)' }];
      expect(await migrate(pool, silentLogger, good)).toEqual([next]);
    } finally {
      await pool.end();
    }
  });

  it('apply every pending step in one transaction: one that fails leaves none applied', async () => {
    const pool = openPool(database.url, { max: 1, statementTimeoutMs: 30_000 }, silentLogger);
    try {
      const older = MIGRATIONS.slice(0, -2);
      await migrate(pool, silentLogger, older);
      const next = MIGRATIONS.at(-1)!.version + 1;
      const logged: string[] = [];
      const log = jsonLogger((line) => logged.push(line));
      const broken = [...MIGRATIONS, { version: next, name: 'broken', sql: 'SELECT 1/0' }];
      await expect(migrate(pool, log, broken)).rejects.toThrow('division by zero');
      const versions = async () =>
        (await database.query<{ version: number }>('SELECT version FROM schema_migration ORDER BY 1')).map(
          (row) => row.version,
        );
      expect(await versions()).toEqual(older.map((migration) => migration.version));
      expect(logged.filter((line) => line.includes('database migrated'))).toEqual([]);
      // The steps that would have come before the broken one apply with it, or not at all.
      expect(await migrate(pool, log)).toEqual(MIGRATIONS.slice(-2).map((migration) => migration.version));
      expect(await versions()).toEqual(MIGRATIONS.map((migration) => migration.version));
    } finally {
      await pool.end();
    }
  });

  it('log each applied step once its transaction has committed', async () => {
    const pool = openPool(database.url, { max: 1, statementTimeoutMs: 30_000 }, silentLogger);
    const events: string[] = [];
    // Each statement of the migrating client, and each log line, in the order they happen.
    // (Wrapped once a client: migrate acquires it for its reads before the transaction.)
    const wrapped = new WeakSet<object>();
    pool.on('acquire', (client) => {
      if (wrapped.has(client)) return;
      wrapped.add(client);
      const query = client.query.bind(client) as (text: unknown, ...rest: unknown[]) => unknown;
      client.query = ((text: unknown, ...rest: unknown[]) => {
        if (typeof text === 'string') events.push(text.trim().split(/\s+/)[0]);
        return query(text, ...rest);
      }) as typeof client.query;
    });
    const log = jsonLogger((line) => events.push(JSON.parse(line).msg));
    try {
      const applied = await migrate(pool, log, MIGRATIONS.slice(0, 2));
      expect(applied).toEqual([1, 2]);
      const commit = events.indexOf('COMMIT');
      expect(commit).toBeGreaterThan(0);
      expect(events.slice(commit)).toEqual(['COMMIT', 'database migrated', 'database migrated']);
      expect(events.filter((event) => event === 'BEGIN')).toHaveLength(1);
    } finally {
      await pool.end();
    }
  });

  it('refuse to open a database whose schema is newer than this build', async () => {
    const store = await openPostgresStore({ url: database.url });
    await store.close();
    await database.query("INSERT INTO schema_migration (version, name) VALUES (999, 'from the future')");
    await expect(openPostgresStore({ url: database.url })).rejects.toThrow(SchemaTooNewError);
    await expect(openPostgresStore({ url: database.url })).rejects.toThrow(/version 999, newer than/);
  });

  it('write nothing to a current database: a read-only session opens it and reads, or refuses a newer schema', async () => {
    const store = await openPostgresStore({ url: database.url });
    await store.close();
    // What a hot standby or a role with default_transaction_read_only=on gives every session.
    await queryOnce(SERVER_URL, `ALTER DATABASE ${database.name} SET default_transaction_read_only = on`);
    const pool = openPool(database.url, { max: 1, statementTimeoutMs: 30_000 }, silentLogger);
    try {
      expect(await migrate(pool, silentLogger)).toEqual([]);
    } finally {
      await pool.end();
    }
    const readOnly = await openPostgresStore({ url: database.url });
    try {
      expect(await readOnly.version()).toBe('0');
      expect(await readOnly.listKeys('PROJECT')).toEqual([]);
      expect((await readOnly.readLedger(0, Date.parse('2030-01-01T00:00Z'))).size).toBe(0);
    } finally {
      await readOnly.close();
    }
    await queryOnce(SERVER_URL, `ALTER DATABASE ${database.name} RESET default_transaction_read_only`);
    await database.query("INSERT INTO schema_migration (version, name) VALUES (999, 'from the future')");
    await queryOnce(SERVER_URL, `ALTER DATABASE ${database.name} SET default_transaction_read_only = on`);
    await expect(openPostgresStore({ url: database.url })).rejects.toThrow(SchemaTooNewError);
  });

  it('keep usage by project and user written as jsonb readable beside rows in the figures layout', async () => {
    const pool = openPool(database.url, { max: 1, statementTimeoutMs: 30_000 }, silentLogger);
    try {
      await migrate(
        pool,
        silentLogger,
        MIGRATIONS.filter((migration) => migration.version < 10),
      );
      const figures = (n: number) => ({
        ...zeroFigures(),
        busyCpuSeconds: n,
        busyKwh: n / 3,
        idleGco2eq: 0.1 + 0.2,
      });
      const stored: Breakdown = {
        all: figures(7),
        byMachine: { 'Octopus (GPU)': figures(5), N: figures(2) },
      };
      // A row written before a metric existed lacks it: it reads as 0.
      const { embodiedGco2eq: _dropped, ...older } = figures(1);
      await pool.query(
        `INSERT INTO project_user_hour (hour, project, user_key, figures)
         VALUES ('2025-03-10T05:00Z', 'P', 'alice', $1), ('2025-03-10T06:00Z', 'P', 'bob', $2)`,
        [JSON.stringify(stored), JSON.stringify({ all: older, byMachine: {} })],
      );
      expect(await migrate(pool, silentLogger)).toContain(10);
      const projectUsers = postgresProjectUsers(pool);
      await projectUsers.replaceHours(
        [Date.parse('2025-03-10T07:00Z')],
        [{ hour: Date.parse('2025-03-10T07:00Z'), project: 'P', user: 'alice', figures: stored }],
      );
      expect((await projectUsers.readDay('2025-03-10', 'P')).get('alice')?.all.busyCpuSeconds).toBe(14);
      expect((await projectUsers.readDayRows('2025-03-10')).slice(0, 2)).toEqual([
        { hour: Date.parse('2025-03-10T05:00Z'), project: 'P', user: 'alice', figures: stored },
        {
          hour: Date.parse('2025-03-10T06:00Z'),
          project: 'P',
          user: 'bob',
          figures: { all: figures(1), byMachine: {} },
        },
      ]);
    } finally {
      await pool.end();
    }
  });
});
