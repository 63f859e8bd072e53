import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HOUR_MS } from '../../src/domain/time';
import { LEVELS, type Level } from '../../src/domain/levels';
import type { DayEntry } from '../../src/domain/usage';
import { ingestRange } from '../../src/ingest/run';
import type { CpuSecondsSource, SourceHour } from '../../src/ingest/ports';
import { openJsonStore } from '../../src/store/json';
import { openPostgresStore, type PostgresStore } from '../../src/store/postgres';
import type { Store } from '../../src/store/store';
import { directIngestDeps, hoursIn, ledgerBetween } from '../support/fake-ingest';
import { queryOnce } from '../support/postgres';
import { startTemporaryCluster, type TemporaryCluster } from '../support/postgres-cluster';

const FROM = Date.parse('2025-03-01T00:00:00Z');
const TO = FROM + 48 * HOUR_MS;
const STEP_HOURS = 6;

/** Three instances in two projects, each hour's CPU seconds different; `onFetch` runs before each answer. */
function fleetSource(onFetch: (call: number) => Promise<void> = async () => undefined): CpuSecondsSource {
  let calls = 0;
  return {
    async fetchHours(fromHour, toHour) {
      await onFetch(++calls);
      const out = new Map<number, SourceHour>();
      for (const hour of hoursIn(fromHour, toHour)) {
        out.set(hour, {
          status: 'ok',
          rows: [1, 2, 3].map((i) => ({
            hour,
            instance: `vm-${i}:9100`,
            labels: {
              cloud_project_name: i === 3 ? 'beta' : 'alpha',
              machine_name: `type ${i % 2}`,
              host: `h${i}`,
            },
            busyCpuSeconds: ((hour / HOUR_MS) * 37 * i) % 3600,
            idleCpuSeconds: 3600 - (((hour / HOUR_MS) * 37 * i) % 3600),
          })),
        });
      }
      return out;
    },
  };
}

/** Every day entry of every key, and the ledger, over [FROM, TO): what a reader can see. */
async function contents(store: Store) {
  const dates = ['2025-03-01', '2025-03-02'];
  const days: Array<[Level, string, Array<DayEntry | null>]> = [];
  for (const level of LEVELS) {
    const keys = await store.listKeys(level);
    for (const date of dates) days.push([level, date, await store.readDays(level, date, keys)]);
  }
  return { days, ledger: [...(await ledgerBetween(store, FROM, TO))] };
}

describe('the PostgreSQL store under faults', () => {
  let cluster: TemporaryCluster;
  let reference: Awaited<ReturnType<typeof contents>>;

  beforeAll(async () => {
    cluster = await startTemporaryCluster();
    const dir = await mkdtemp(join(tmpdir(), 'carbonledger-pg-faults-'));
    const json = await openJsonStore({ dataDir: dir });
    try {
      await ingestRange(directIngestDeps(json, fleetSource(), { stepHours: STEP_HOURS }), FROM, TO);
      reference = await contents(json);
    } finally {
      await json.close();
      await rm(dir, { recursive: true, force: true });
    }
  });

  afterAll(() => cluster?.destroy());

  let store: PostgresStore | undefined;
  afterEach(async () => {
    await store?.close();
    store = undefined;
  });

  async function freshStore(
    options: Parameters<typeof openPostgresStore>[0] extends infer O ? Partial<O> : never,
  ) {
    const name = `faults_${Math.random().toString(36).slice(2, 10)}`;
    await queryOnce(cluster.url, `CREATE DATABASE ${name}`);
    store = await openPostgresStore({ url: cluster.urlOf(name), ...options });
    return store;
  }

  it('rides out a restart of the database mid-ingest: the batch is tried again, whole', async () => {
    const pg = await freshStore({ batchRetryMs: 60_000 });
    const source = fleetSource(async (call) => {
      if (call === 3) await cluster.restart('immediate');
    });
    const report = await ingestRange(directIngestDeps(pg, source, { stepHours: STEP_HOURS }), FROM, TO);
    expect(report.failed).toEqual([]);
    expect(await contents(pg)).toEqual(reference);
  });

  it('leaves whole batches only when the database stays down, and the next run fills the rest', async () => {
    const pg = await freshStore({ batchRetryMs: 500, connectionTimeoutMs: 1000 });
    const source = fleetSource(async (call) => {
      if (call === 4) await cluster.stop('immediate');
    });
    await expect(
      ingestRange(directIngestDeps(pg, source, { stepHours: STEP_HOURS }), FROM, TO),
    ).rejects.toThrow();
    await cluster.start();
    const partial = await contents(pg);
    const okHours = partial.ledger.filter(([, record]) => record.status === 'ok').map(([hour]) => hour);
    // Whole steps: the ledger holds the first steps' hours, each with its figures; nothing after.
    expect(okHours.length % STEP_HOURS).toBe(0);
    expect(okHours.length).toBeGreaterThanOrEqual(2 * STEP_HOURS);
    expect(partial.ledger.length).toBe(okHours.length);
    const last = Math.max(...okHours);
    for (const [level, date, entries] of partial.days) {
      const expected = reference.days.find(([l, d]) => l === level && d === date)![2];
      entries.forEach((entry, i) => {
        for (const [label, figures] of Object.entries(entry?.hours ?? {})) {
          expect(Date.parse(`${date}T${label}Z`)).toBeLessThanOrEqual(last);
          expect(figures).toEqual(expected[i]!.hours[label]);
        }
      });
    }
    await ingestRange(directIngestDeps(pg, fleetSource(), { stepHours: STEP_HOURS }), FROM, TO);
    expect(await contents(pg)).toEqual(reference);
  });

  it('gives up a statement past statement_timeout, writing nothing, and works once the block goes', async () => {
    const pg = await freshStore({ statementTimeoutMs: 300 });
    await ingestRange(
      directIngestDeps(pg, fleetSource(), { stepHours: STEP_HOURS }),
      FROM,
      FROM + STEP_HOURS * HOUR_MS,
    );
    const before = await contents(pg);
    const blocker = await lockTables(pg);
    try {
      await expect(pg.readDays('PROJECT', '2025-03-01', ['alpha'])).rejects.toThrow(/statement timeout/);
      await expect(
        ingestRange(
          directIngestDeps(pg, fleetSource(), { stepHours: STEP_HOURS }),
          FROM + STEP_HOURS * HOUR_MS,
          TO,
        ),
      ).rejects.toThrow(/statement timeout/);
    } finally {
      await blocker.release();
    }
    expect(await contents(pg)).toEqual(before);
    await ingestRange(directIngestDeps(pg, fleetSource(), { stepHours: STEP_HOURS }), FROM, TO);
    expect(await contents(pg)).toEqual(reference);
  });

  it('writes a batch while readers fill the connection pool: the writer has a connection of its own', async () => {
    const pg = await freshStore({ poolSize: 1, connectionTimeoutMs: 300 });
    const reader = await pg.pool.connect();
    try {
      const report = await ingestRange(
        directIngestDeps(pg, fleetSource(), { stepHours: STEP_HOURS }),
        FROM,
        TO,
      );
      expect(report.failed).toEqual([]);
      await expect(pg.listKeys('PROJECT')).rejects.toThrow(/timeout exceeded when trying to connect/);
    } finally {
      reader.release();
    }
    expect(await contents(pg)).toEqual(reference);
  });

  it('fails a read that finds the connection pool full for too long, and serves again once it frees', async () => {
    const pg = await freshStore({ poolSize: 1, connectionTimeoutMs: 300, statementTimeoutMs: 10_000 });
    await ingestRange(directIngestDeps(pg, fleetSource(), { stepHours: STEP_HOURS }), FROM, TO);
    const blocker = await lockTables(pg);
    // The one connection waits on the lock; the next read waits for the connection, then gives up.
    const stuck = pg.readDays('PROJECT', '2025-03-01', ['alpha']);
    await blocker.waitForWaiters(1);
    await expect(pg.listKeys('USER')).rejects.toThrow(/timeout exceeded when trying to connect/);
    await blocker.release();
    expect((await stuck)[0]?.key).toBe('alpha');
    expect(await pg.listKeys('PROJECT')).toEqual(['alpha', 'beta']);
  });
});

/** Another session holding an exclusive lock on every usage table until released. */
async function lockTables(
  store: PostgresStore,
): Promise<{ release(): Promise<void>; waitForWaiters(count: number): Promise<void> }> {
  const { default: pg } = await import('pg');
  const client = new pg.Client({
    connectionString: (store.pool as unknown as { options: { connectionString: string } }).options
      .connectionString,
  });
  await client.connect();
  await client.query('BEGIN');
  await client.query('LOCK TABLE usage_key, usage_hour, usage_day, ledger_hour IN ACCESS EXCLUSIVE MODE');
  return {
    async release() {
      await client.query('ROLLBACK');
      await client.end();
    },
    // Polls the server rather than sleeping, so a slow machine cannot reorder the test's steps.
    async waitForWaiters(count) {
      for (;;) {
        const { rows } = await client.query<{ waiting: number }>(
          `SELECT count(*)::int AS waiting FROM pg_stat_activity
           WHERE datname = current_database() AND wait_event_type = 'Lock'`,
        );
        if (rows[0].waiting >= count) return;
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    },
  };
}
