import { z } from 'zod';
import { systemClock } from '../../../../src/domain/clock';
import { silentLogger } from '../../../../src/log';
import { PluginHost, type RunOutcome, type ScheduledPlugin } from '../../../../src/plugins/host';
import { openPostgresStore, type PostgresStore } from '../../../../src/store/postgres';
import { manualScheduler } from '../../../support/manual-scheduler';
import { createTestDatabase, type TestDatabase } from '../../../support/postgres';

const CRON = '5 * * * *';
const TICK = Date.parse('2026-01-01T10:05:00Z');
const HOUR = 3_600_000;

/** Two replicas: a store and a host each, on one database, ticked by hand. */
describe('scheduled jobs across replicas sharing a PostgreSQL store', () => {
  let database: TestDatabase;
  let stores: PostgresStore[];
  let hosts: PluginHost[];
  let scheduler: ReturnType<typeof manualScheduler>;
  let runs: Array<{ replica: number; signal: AbortSignal }>;
  let outcomes: Array<{ replica: number; outcome: RunOutcome }>;
  let finishRun: () => void;

  function plugin(replica: number): ScheduledPlugin<unknown> {
    return {
      name: 'hourly-ingest',
      configSchema: z.unknown(),
      schedule: CRON,
      timeoutMs: 60_000,
      run: async (ctx) => {
        runs.push({ replica, signal: ctx.signal });
        await new Promise<void>((resolve) => {
          finishRun = resolve;
          ctx.signal.addEventListener('abort', () => resolve(), { once: true });
        });
        return { ok: true };
      },
    };
  }

  beforeEach(async () => {
    database = await createTestDatabase();
    stores = [
      await openPostgresStore({ url: database.url, jobLeaseMs: 900 }),
      await openPostgresStore({ url: database.url, jobLeaseMs: 900 }),
    ];
    scheduler = manualScheduler();
    runs = [];
    outcomes = [];
    hosts = stores.map((store, replica) => {
      const host = new PluginHost({
        store,
        clock: systemClock,
        log: silentLogger,
        scheduler,
        claims: store.jobClaims,
        onRun: (_name, outcome) => outcomes.push({ replica, outcome }),
      });
      host.register(plugin(replica), undefined);
      host.start();
      return host;
    });
  });

  afterEach(async () => {
    finishRun?.();
    await Promise.all(hosts.map((host) => host.stop(1000)));
    await Promise.all(stores.map((store) => store.close().catch(() => undefined)));
    await database.drop();
  });

  const settled = async (count: number) => {
    for (let i = 0; i < 200 && outcomes.length < count; i++) await new Promise((r) => setTimeout(r, 25));
  };

  it('runs each tick once across the replicas, and the next tick once the first run ended', async () => {
    scheduler.tick(CRON, TICK);
    await settled(1);
    expect(runs).toHaveLength(1);
    expect(outcomes).toEqual([
      {
        replica: expect.any(Number),
        outcome: { outcome: 'skipped', reason: 'another process claimed this tick' },
      },
    ]);
    finishRun();
    await settled(2);
    expect(outcomes.map((o) => o.outcome.outcome).sort()).toEqual(['ok', 'skipped']);

    // The same tick again (a replica's schedule firing late) runs nowhere; the next runs once.
    scheduler.tick(CRON, TICK);
    await settled(4);
    expect(runs).toHaveLength(1);
    scheduler.tick(CRON, TICK + HOUR);
    await settled(5);
    expect(runs).toHaveLength(2);
    finishRun();
    await settled(6);
    expect(
      outcomes
        .slice(4)
        .map((o) => o.outcome.outcome)
        .sort(),
    ).toEqual(['ok', 'skipped']);
  });

  it('never runs a job twice at once: a tick while the last run still holds its lease is skipped everywhere', async () => {
    scheduler.tick(CRON, TICK);
    await settled(1);
    // Held longer than the lease: the holder renews it, so the next tick finds it held.
    await new Promise((r) => setTimeout(r, 1500));
    scheduler.tick(CRON, TICK + HOUR);
    await settled(3);
    expect(runs).toHaveLength(1);
    expect(runs[0].signal.aborted).toBe(false);
    expect(outcomes.slice(1).map((o) => o.outcome)).toEqual([
      { outcome: 'skipped', reason: expect.any(String) },
      { outcome: 'skipped', reason: expect.any(String) },
    ]);
  });

  it('gives the next tick to the other replica once the holder died (stopped renewing)', async () => {
    scheduler.tick(CRON, TICK);
    await settled(1);
    const holder = runs[0].replica;
    // The holder's database connections go, as when its process is killed: no renewal, no release.
    await stores[holder].pool.end();
    await new Promise((r) => setTimeout(r, 1200));
    scheduler.tick(CRON, TICK + HOUR);
    for (let i = 0; i < 200 && runs.length < 2; i++) await new Promise((r) => setTimeout(r, 25));
    expect(runs.map((run) => run.replica)).toEqual([holder, 1 - holder]);
    // The dead holder's run was told to stop once its lease could not be renewed.
    expect(runs[0].signal.aborted).toBe(true);
  });
});
