import { createServer, type Socket } from 'node:net';
import { once } from 'node:events';
import pg from 'pg';
import { freePort } from '../../../../src/bench/watched-process';
import { jsonLogger } from '../../../../src/log';
import {
  inspectDatabase,
  ReadRouter,
  type DatabaseIdentity,
} from '../../../../src/store/postgres/read-routing';
import { createTestDatabase, type TestDatabase } from '../../../support/postgres';

/**
 * The routing of the API's reads, over two databases of the machine's server standing for a
 * primary and its standby: each holds the store's version row and says which it is. Neither is in
 * recovery, so unless a test says otherwise the router is told the "standby" is a standby of the
 * primary's cluster and database.
 */
describe('ReadRouter', () => {
  let primaryDb: TestDatabase;
  let standbyDb: TestDatabase;
  const pools: pg.Pool[] = [];
  const logged: string[] = [];

  beforeAll(async () => {
    [primaryDb, standbyDb] = await Promise.all([
      createTestDatabase('cl_route'),
      createTestDatabase('cl_route'),
    ]);
    for (const [db, name] of [
      [primaryDb, 'primary'],
      [standbyDb, 'standby'],
    ] as const) {
      await db.query('CREATE TABLE store_version (version bigint NOT NULL)');
      await db.query('INSERT INTO store_version VALUES (7)');
      await db.query(`CREATE TABLE which AS SELECT '${name}'::text AS name`);
    }
  });

  afterEach(async () => {
    await Promise.all(pools.splice(0).map((pool) => pool.end()));
    logged.length = 0;
    await Promise.all([
      primaryDb.query('UPDATE store_version SET version = 7'),
      standbyDb.query('UPDATE store_version SET version = 7'),
    ]);
  });

  afterAll(async () => {
    await primaryDb?.drop();
    await standbyDb?.drop();
  });

  type Inspect = (db: pg.Pool) => Promise<DatabaseIdentity>;

  const isPrimary = (db: pg.Pool) => db.options.connectionString === primaryDb.url;

  /** Says the standby is one of the primary, in recovery, of its cluster and database. */
  function standbyOfPrimary(standby: Partial<DatabaseIdentity> = {}): Inspect {
    return async (db) =>
      isPrimary(db)
        ? { recovery: false, system: '7000000000000000001', database: 'carbon' }
        : { recovery: true, system: '7000000000000000001', database: 'carbon', ...standby };
  }

  function router(
    standbyUrl = standbyDb.url,
    probeTimeoutMs?: number,
    /** null: the router's own inspection of the databases. */
    inspect: Inspect | null = standbyOfPrimary(),
    versionTtlMs = 0,
  ): ReadRouter {
    const pool = (url: string) => {
      const opened = new pg.Pool({ connectionString: url, max: 2, connectionTimeoutMillis: 2000 });
      opened.on('error', () => undefined);
      pools.push(opened);
      return opened;
    };
    return new ReadRouter({
      primary: pool(primaryDb.url),
      standby: pool(standbyUrl),
      standbyUrl: 'postgres://standby/',
      log: jsonLogger((line) => logged.push(line)),
      versionTtlMs,
      probeTimeoutMs,
      inspect: inspect ?? undefined,
    });
  }

  async function answeredBy(reads: ReadRouter): Promise<string> {
    const { rows } = await reads.query<{ name: string }>({ text: 'SELECT name FROM which' });
    return rows[0].name;
  }

  it('looks again after forget(), even when this process committed while a look was under way', async () => {
    const reads = router(standbyDb.url, undefined, standbyOfPrimary(), 60_000);
    const looking = reads.version();
    reads.forget();
    expect(await looking).toBe('7');
    await Promise.all([
      primaryDb.query('UPDATE store_version SET version = 9'),
      standbyDb.query('UPDATE store_version SET version = 9'),
    ]);
    expect(await reads.version()).toBe('9');
  });

  it("asks a role refused the cluster's control data for it once, not at every look", async () => {
    const asked: string[] = [];
    const refusing = {
      query: async (text: string) => {
        asked.push(text);
        if (text.includes('pg_control_system'))
          throw Object.assign(new Error('permission denied'), { code: '42501' });
        return { rows: [{ recovery: true, database: 'carbon' }] };
      },
    } as unknown as pg.Pool;
    for (let look = 0; look < 3; look++) {
      expect(await inspectDatabase(refusing)).toEqual({ recovery: true, database: 'carbon', system: null });
    }
    expect(asked.filter((text) => text.includes('pg_control_system'))).toHaveLength(1);
    expect(asked.filter((text) => text.includes('pg_is_in_recovery'))).toHaveLength(3);
  });

  it('reads the primary until it has looked at the standby', async () => {
    const reads = router();
    expect(await answeredBy(reads)).toBe('primary');
    expect(await reads.version()).toBe('7');
    expect(await answeredBy(reads)).toBe('standby');
  });

  it('reads the primary while the standby has not the primary version, and the standby again once it has', async () => {
    const reads = router();
    await primaryDb.query('UPDATE store_version SET version = 8');
    expect(await reads.version()).toBe('8');
    expect(await answeredBy(reads)).toBe('primary');
    expect(await reads.version()).toBe('8');
    expect(logged.join('\n')).toMatch(/"level":"warn","msg":"store.readUrl: the standby has not replayed/);
    await standbyDb.query('UPDATE store_version SET version = 8');
    expect(await reads.version()).toBe('8');
    expect(await answeredBy(reads)).toBe('standby');
    expect(logged.join('\n')).toMatch(/the standby has caught up/);
  });

  it('reads the primary when the standby cannot be reached, with a warning naming store.readUrl', async () => {
    const reads = router(`postgres://postgres@127.0.0.1:${await freePort()}/nowhere`);
    expect(await reads.version()).toBe('7');
    expect(await answeredBy(reads)).toBe('primary');
    expect(logged.join('\n')).toMatch(
      /"level":"warn","msg":"store.readUrl: the standby cannot be read.*"readUrl":"postgres:\/\/standby\/".*ECONNREFUSED/,
    );
  });

  it('answers a read the standby fails from the primary, and returns to the standby once it answers', async () => {
    const reads = router();
    await reads.version();
    expect(await answeredBy(reads)).toBe('standby');
    await standbyDb.query('ALTER TABLE which RENAME TO which_gone');
    try {
      expect(await answeredBy(reads)).toBe('primary');
      expect(logged.join('\n')).toMatch(/store.readUrl: the standby cannot be read.*which/);
    } finally {
      await standbyDb.query('ALTER TABLE which_gone RENAME TO which');
    }
    await reads.version(); // the standby answers again (looked at in the background)
    await new Promise((resolve) => setTimeout(resolve, 200));
    await reads.version();
    expect(await answeredBy(reads)).toBe('standby');
  });

  it('gives the primary version, never the standby one, even when the standby is ahead', async () => {
    // A commit lands on the primary, and the standby replays it, between the router's two reads.
    const inspect = standbyOfPrimary();
    const reads = router(undefined, undefined, async (db) => {
      if (!isPrimary(db)) {
        await primaryDb.query('UPDATE store_version SET version = 9');
        await standbyDb.query('UPDATE store_version SET version = 9');
      }
      return inspect(db);
    });
    expect(await reads.version()).toBe('7');
    expect(await answeredBy(reads)).toBe('standby');
  });

  it('reads the primary when the standby is not in recovery, with one warning naming store.readUrl', async () => {
    // The inspection as a real router does it: the "standby" is a plain database, not a standby.
    const reads = router(undefined, undefined, null);
    await standbyDb.query('UPDATE store_version SET version = 9');
    expect(await reads.version()).toBe('7');
    expect(await answeredBy(reads)).toBe('primary');
    expect(await reads.version()).toBe('7');
    expect(await answeredBy(reads)).toBe('primary');
    const warnings = logged.filter((line) => line.includes('"level":"warn"'));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(
      /store.readUrl: not a standby of the primary \(pg_is_in_recovery\(\) is false on it\).*"readUrl":"postgres:\/\/standby\/"/,
    );
  });

  it('reads the primary when the standby is one of another cluster, or of another database', async () => {
    const otherCluster = router(undefined, undefined, standbyOfPrimary({ system: '7000000000000000002' }));
    expect(await otherCluster.version()).toBe('7');
    expect(await answeredBy(otherCluster)).toBe('primary');
    expect(logged.join('\n')).toMatch(/not a standby of the primary \(a standby of another cluster/);
    logged.length = 0;
    const otherDatabase = router(undefined, undefined, standbyOfPrimary({ database: 'other' }));
    expect(await otherDatabase.version()).toBe('7');
    expect(await answeredBy(otherDatabase)).toBe('primary');
    expect(logged.join('\n')).toMatch(/not a standby of the primary \(another database: other/);
  });

  it('trusts the recovery check alone when the cluster identifier cannot be read', async () => {
    const reads = router(undefined, undefined, async (db) =>
      isPrimary(db)
        ? { recovery: false, system: null, database: 'carbon' }
        : { recovery: true, system: '7000000000000000002', database: 'carbon' },
    );
    expect(await reads.version()).toBe('7');
    expect(await answeredBy(reads)).toBe('standby');
  });

  it('reads the primary while the standby stays ahead of it (it replays another history), and the standby once equal', async () => {
    // The primary restored from a backup: its version went back; an old standby of it still has the newer.
    const reads = router();
    await standbyDb.query('UPDATE store_version SET version = 9');
    expect(await reads.version()).toBe('7');
    expect(await answeredBy(reads)).toBe('primary');
    expect(logged.join('\n')).toMatch(
      /"level":"warn","msg":"store.readUrl: not a standby of the primary \(its store_version \(9\) is ahead of the primary's \(7\)/,
    );
    await standbyDb.query('UPDATE store_version SET version = 7');
    expect(await reads.version()).toBe('7');
    expect(await answeredBy(reads)).toBe('standby');
    expect(logged.join('\n')).toMatch(/now a standby of the primary/);
  });

  it('waits for a standby that never answers no longer than the probe timeout, once', async () => {
    const sockets: Socket[] = [];
    const silent = createServer((socket) => void sockets.push(socket)).listen(0, '127.0.0.1');
    await once(silent, 'listening');
    const { port } = silent.address() as { port: number };
    try {
      const reads = router(`postgres://postgres@127.0.0.1:${port}/silent`, 300);
      let started = Date.now();
      expect(await reads.version()).toBe('7');
      expect(Date.now() - started).toBeLessThan(1500);
      expect(logged.join('\n')).toMatch(/store.readUrl: the standby cannot be read.*no answer within 300 ms/);
      expect(await answeredBy(reads)).toBe('primary');
      // Later looks do not wait for it: it is looked at in the background.
      started = Date.now();
      await reads.version();
      expect(Date.now() - started).toBeLessThan(250);
      expect(await answeredBy(reads)).toBe('primary');
    } finally {
      for (const socket of sockets) socket.destroy();
      silent.close();
    }
  });
});
