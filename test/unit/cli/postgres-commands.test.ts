import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { parseConfig } from '../../../src/config';
import { jsonLogger } from '../../../src/log';
import { openPostgresStore, postgresStoreOptions } from '../../../src/store/postgres';
import { LOCK_NAMESPACE, LOCKS } from '../../../src/store/postgres/locks';
import { runCli } from '../../support/cli';
import { tempDirs } from '../../support/fake-ingest';
import { createTestDatabase, type TestDatabase } from '../../support/postgres';

const dirs = tempDirs('cl-pg-cli-');

/** `prune` and `migrate` open the store as `serve` does: with the config's poolSize and statementTimeoutMs. */
describe('the PostgreSQL commands', () => {
  let database: TestDatabase;
  let holder: pg.Client;
  let config: string;

  beforeEach(async () => {
    database = await createTestDatabase();
    await (await openPostgresStore({ url: database.url })).close();
    holder = new pg.Client({ connectionString: database.url });
    await holder.connect();
    config = join(dirs.make(), 'config.json');
    writeFileSync(
      config,
      JSON.stringify({
        store: { kind: 'postgres', url: database.url, statementTimeoutMs: 300, poolSize: 2 },
      }),
    );
  });

  afterEach(async () => {
    await holder.end();
    await database.drop();
    dirs.cleanup();
  });

  it('takes every setting of the store section', () => {
    const store = parseConfig({
      store: {
        kind: 'postgres',
        url: 'postgres://primary/ledger',
        readUrl: 'postgres://standby/ledger',
        poolSize: 3,
        statementTimeoutMs: 4000,
        jobLeaseMs: 5000,
      },
    }).store;
    expect(store.kind === 'postgres' && postgresStoreOptions(store)).toEqual({
      url: 'postgres://primary/ledger',
      readUrl: 'postgres://standby/ledger',
      poolSize: 3,
      statementTimeoutMs: 4000,
      jobLeaseMs: 5000,
    });
  });

  it.each([
    ['migrate', LOCKS.migration, ['migrate']],
    ['prune', LOCKS.batch, ['prune', '--before', '2025-02']],
  ])('%s: a statement that waits longer than statementTimeoutMs is cancelled', async (_, lock, argv) => {
    await holder.query('SELECT pg_advisory_lock($1, $2)', [LOCK_NAMESPACE, lock]);
    // migrate takes its lock only with a step pending (a current schema is only read): one is.
    if (lock === LOCKS.migration)
      await database.query(
        'DELETE FROM schema_migration WHERE version = (SELECT max(version) FROM schema_migration)',
      );
    const started = Date.now();
    const { code, stderr } = await runCli([...argv, '--config', config]);
    // Not the default's 30 s.
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(code).toBe(1);
    expect(stderr).toContain('canceling statement due to statement timeout');
  });
});

describe('opening a PostgreSQL store', () => {
  it('says "store opened" only once the database answered', async () => {
    const database = await createTestDatabase();
    const url = database.url;
    await database.drop();
    // A database that does not exist, and a server that refuses connections (nothing listens on port 1).
    const refused = 'postgres://postgres@127.0.0.1:1/ledger';
    for (const [target, error] of [
      [url, /does not exist/],
      [refused, /ECONNREFUSED/],
    ] as const) {
      for (const migrate of [true, false]) {
        const logged: string[] = [];
        await expect(
          openPostgresStore({ url: target, migrate, log: jsonLogger((line) => logged.push(line)) }),
        ).rejects.toThrow(error);
        expect(logged.filter((line) => line.includes('store opened'))).toEqual([]);
      }
    }
  });
});
