import { silentLogger } from '../../../../src/log';
import { migrate, MIGRATIONS, openPostgresStore, SchemaTooNewError } from '../../../../src/store/postgres';
import { openPool } from '../../../../src/store/postgres/connect';
import { createTestDatabase, type TestDatabase } from '../../../support/postgres';

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

  it('apply a new step on the next start, in its own transaction: a failing step leaves the version', async () => {
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

  it('refuse to open a database whose schema is newer than this build', async () => {
    const store = await openPostgresStore({ url: database.url });
    await store.close();
    await database.query("INSERT INTO schema_migration (version, name) VALUES (999, 'from the future')");
    await expect(openPostgresStore({ url: database.url })).rejects.toThrow(SchemaTooNewError);
    await expect(openPostgresStore({ url: database.url })).rejects.toThrow(/version 999, newer than/);
  });
});
