import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fixedClock } from '../../../src/domain/clock';
import { HOUR_MS } from '../../../src/domain/time';
import { acquireIngestLock, INGEST_LOCK_FILE } from '../../../src/store/json/lock';
import { findLastOkHour, INGEST_PLUGIN, scheduledIngestPlugin } from '../../../src/ingest/plugin';
import { ingestRange } from '../../../src/ingest/run';
import { silentLogger } from '../../../src/log';
import { PluginHost, type RunOutcome } from '../../../src/plugins/host';
import { openJsonStore } from '../../../src/store/json';
import type { Store } from '../../../src/store/store';
import {
  fakeCarbon,
  fakeCpuSource,
  fakeDeps,
  hoursIn,
  ingestConfig,
  ledgerBetween,
  settle,
  tempDirs,
} from '../../support/fake-ingest';
import { manualScheduler } from '../../support/manual-scheduler';

const CRON = '5 * * * *';
const at = (iso: string) => Date.parse(iso);
const dirs = tempDirs('cl-ingest-plugin-');
afterEach(() => dirs.cleanup());

async function setup(options: { firstRunHours?: number; maxHoursPerRun?: number; chunkHours?: number } = {}) {
  const dataDir = dirs.make();
  const store = await openJsonStore({ dataDir, log: silentLogger });
  const clock = fixedClock(at('2025-09-20T10:05:00Z'));
  const scheduler = manualScheduler();
  const source = fakeCpuSource();
  const outcomes: RunOutcome[] = [];
  const host = new PluginHost({
    store,
    clock,
    log: silentLogger,
    scheduler,
    onRun: (_name, outcome) => outcomes.push(outcome),
  });
  host.register(
    scheduledIngestPlugin({
      schedule: CRON,
      firstRunHours: options.firstRunHours ?? 5,
      maxHoursPerRun: options.maxHoursPerRun,
      makeDeps: fakeDeps(source, fakeCarbon()),
    }),
    ingestConfig(dataDir, options.chunkHours ?? 2),
  );
  host.start();
  return { dataDir, store, clock, scheduler, source, host, outcomes };
}

/** Ticks the cron job as node-schedule would, and waits for the run it starts. */
async function tick(scheduler: ReturnType<typeof manualScheduler>, host: PluginHost): Promise<void> {
  scheduler.tick(CRON);
  while (host.isRunning(INGEST_PLUGIN)) await settle();
}

async function okHours(store: Store, from: number, to: number): Promise<number[]> {
  const ledger = await ledgerBetween(store, from, to);
  return [...ledger].filter(([, record]) => record.status === 'ok').map(([hour]) => hour);
}

describe('the hourly ingest plugin', () => {
  it('starts firstRunHours back on an empty store, in chunks of prometheus.chunkHours', async () => {
    const { store, scheduler, source, host, outcomes } = await setup({ firstRunHours: 5, chunkHours: 2 });
    await tick(scheduler, host);
    expect(source.calls).toEqual([
      [at('2025-09-20T05:00Z'), at('2025-09-20T07:00Z')],
      [at('2025-09-20T07:00Z'), at('2025-09-20T09:00Z')],
      [at('2025-09-20T09:00Z'), at('2025-09-20T10:00Z')],
    ]);
    expect(await okHours(store, at('2025-09-19T00:00Z'), at('2025-09-21T00:00Z'))).toEqual(
      hoursIn(at('2025-09-20T05:00Z'), at('2025-09-20T10:00Z')),
    );
    expect(outcomes).toEqual([
      {
        outcome: 'ok',
        report: {
          ok: true,
          detail: {
            from: '2025-09-20T05:00:00.000Z',
            to: '2025-09-20T10:00:00.000Z',
            retriedFailedHours: 0,
            okHours: 5,
            failedHours: 0,
            noDataHours: 0,
            keptHours: 0,
            remainingHours: 0,
            lastOkHour: '2025-09-20T09:00:00.000Z',
          },
        },
      },
    ]);
    await host.stop();
  });

  it('after downtime catches up exactly the missing hours, then nothing until the next hour ends', async () => {
    const { store, clock, scheduler, source, host } = await setup({ firstRunHours: 2, chunkHours: 24 });
    await tick(scheduler, host);
    source.calls.length = 0;
    // Down from 10:05 on the 20th until 13:20 on the 22nd: no ticks at all.
    clock.set(at('2025-09-22T13:20:00Z'));
    await tick(scheduler, host);
    const missing = hoursIn(at('2025-09-20T10:00Z'), at('2025-09-22T13:00Z'));
    expect(source.hoursAsked()).toEqual(missing);
    // Chunked, never more than chunkHours at once.
    expect(source.calls.every(([from, to]) => to - from <= 24 * HOUR_MS)).toBe(true);
    // A first step sized for a thousand VMs (8 h), the rest of that day, a day, then today so far.
    expect(source.calls).toEqual([
      [at('2025-09-20T10:00Z'), at('2025-09-20T18:00Z')],
      [at('2025-09-20T18:00Z'), at('2025-09-21T00:00Z')],
      [at('2025-09-21T00:00Z'), at('2025-09-22T00:00Z')],
      [at('2025-09-22T00:00Z'), at('2025-09-22T13:00Z')],
    ]);
    expect(await okHours(store, at('2025-09-20T00:00Z'), at('2025-09-23T00:00Z'))).toEqual([
      at('2025-09-20T08:00Z'),
      at('2025-09-20T09:00Z'),
      ...missing,
    ]);
    source.calls.length = 0;
    clock.set(at('2025-09-22T13:59:59Z'));
    await tick(scheduler, host);
    expect(source.calls).toEqual([]);
    await host.stop();
  });

  it('retries the failed hours after the last ok one on the next tick', async () => {
    const { store, clock, scheduler, source, host } = await setup({ firstRunHours: 3, chunkHours: 24 });
    source.failing.add(at('2025-09-20T08:00Z')).add(at('2025-09-20T09:00Z'));
    await tick(scheduler, host);
    expect(await findLastOkHour(store, clock.now())).toBe(at('2025-09-20T07:00Z'));
    source.failing.clear();
    source.calls.length = 0;
    clock.set(at('2025-09-20T11:05:00Z'));
    await tick(scheduler, host);
    expect(source.calls).toEqual([[at('2025-09-20T08:00Z'), at('2025-09-20T11:00Z')]]);
    expect(await okHours(store, at('2025-09-20T00:00Z'), at('2025-09-21T00:00Z'))).toEqual(
      hoursIn(at('2025-09-20T07:00Z'), at('2025-09-20T11:00Z')),
    );
    await host.stop();
  });

  it('retries failed hours behind the newest ok one (a catch-up whose first step failed) on the next tick', async () => {
    const { store, clock, scheduler, source, host, outcomes } = await setup({
      firstRunHours: 5,
      chunkHours: 2,
    });
    // The first step (05:00, 06:00) fails, the later ones succeed: the newest ok hour is 09:00.
    source.failing.add(at('2025-09-20T05:00Z')).add(at('2025-09-20T06:00Z'));
    await tick(scheduler, host);
    expect(await findLastOkHour(store, clock.now())).toBe(at('2025-09-20T09:00Z'));
    source.failing.clear();
    source.calls.length = 0;
    clock.set(at('2025-09-20T11:05:00Z'));
    await tick(scheduler, host);
    expect(source.calls).toEqual([
      [at('2025-09-20T10:00Z'), at('2025-09-20T11:00Z')],
      [at('2025-09-20T05:00Z'), at('2025-09-20T07:00Z')],
    ]);
    expect(outcomes.at(-1)).toMatchObject({
      outcome: 'ok',
      report: { detail: { retriedFailedHours: 2, okHours: 3 } },
    });
    expect(await okHours(store, at('2025-09-20T00:00Z'), at('2025-09-21T00:00Z'))).toEqual(
      hoursIn(at('2025-09-20T05:00Z'), at('2025-09-20T11:00Z')),
    );
    await host.stop();
  });

  it('takes a long gap maxHoursPerRun at a time, oldest first, over the following runs', async () => {
    const { store, clock, scheduler, source, host, outcomes } = await setup({
      firstRunHours: 1,
      maxHoursPerRun: 4,
      chunkHours: 2,
    });
    await tick(scheduler, host); // 09:00 only
    clock.set(at('2025-09-20T19:05:00Z')); // 10:00 .. 19:00 missing: 9 hours
    source.calls.length = 0;
    await tick(scheduler, host);
    expect(source.hoursAsked()).toEqual(hoursIn(at('2025-09-20T10:00Z'), at('2025-09-20T14:00Z')));
    expect(outcomes.at(-1)).toMatchObject({ outcome: 'ok', report: { detail: { remainingHours: 5 } } });
    source.calls.length = 0;
    await tick(scheduler, host);
    await tick(scheduler, host);
    expect(source.hoursAsked()).toEqual(hoursIn(at('2025-09-20T14:00Z'), at('2025-09-20T19:00Z')));
    expect(outcomes.at(-1)).toMatchObject({ outcome: 'ok', report: { detail: { remainingHours: 0 } } });
    expect(await okHours(store, at('2025-09-20T00:00Z'), at('2025-09-21T00:00Z'))).toEqual(
      hoursIn(at('2025-09-20T09:00Z'), at('2025-09-20T19:00Z')),
    );
    await host.stop();
  });

  it('never overlaps: a tick while a run is going is skipped', async () => {
    const { scheduler, source, host, outcomes } = await setup({ firstRunHours: 2, chunkHours: 24 });
    let open!: () => void;
    source.gate = new Promise<void>((resolve) => (open = resolve));
    scheduler.tick(CRON);
    await settle();
    expect(host.isRunning(INGEST_PLUGIN)).toBe(true);
    scheduler.tick(CRON);
    scheduler.tick(CRON);
    expect(outcomes).toEqual([
      { outcome: 'skipped', reason: 'still running' },
      { outcome: 'skipped', reason: 'still running' },
    ]);
    open();
    while (host.isRunning(INGEST_PLUGIN)) await settle();
    expect(source.calls).toHaveLength(1);
    expect(outcomes.at(-1)).toMatchObject({ outcome: 'ok' });
    await host.stop();
  });

  it('skips a run (ok false, naming the holder) while another holds the ingest lock', async () => {
    const { dataDir, scheduler, source, host, outcomes } = await setup();
    const held = await acquireIngestLock(dataDir, silentLogger, { purpose: 'cli ingest' });
    await tick(scheduler, host);
    expect(source.calls).toEqual([]);
    expect(outcomes).toEqual([
      {
        outcome: 'failed',
        report: {
          ok: false,
          detail: expect.objectContaining({
            skipped: 'locked',
            reason: expect.stringContaining(`held by pid ${process.pid}`),
          }),
        },
      },
    ]);
    await held.release();
    await tick(scheduler, host);
    expect(outcomes.at(-1)).toMatchObject({ outcome: 'ok' });
    expect(existsSync(join(dataDir, INGEST_LOCK_FILE))).toBe(false);
    await host.stop();
  });
});

describe('shutting down with an ingest running', () => {
  async function started(): Promise<Awaited<ReturnType<typeof setup>> & { open: () => void }> {
    const env = await setup({ firstRunHours: 4, chunkHours: 2 });
    let open!: () => void;
    env.source.gate = new Promise<void>((resolve) => (open = resolve));
    env.scheduler.tick(CRON);
    // Until the run is waiting at the gate: taking the lock and opening the writer come first, and
    // on a busy machine they take many turns of the event loop.
    while (env.host.isRunning(INGEST_PLUGIN) && env.source.calls.length === 0) await settle();
    expect(env.host.isRunning(INGEST_PLUGIN)).toBe(true);
    expect(env.source.calls).toHaveLength(1);
    return { ...env, open };
  }

  it('stop() waits for the running ingest to finish, and it finishes its work', async () => {
    const { store, dataDir, host, open, outcomes, source } = await started();
    let stopped = false;
    const stopping = host.stop(60_000).then(() => (stopped = true));
    for (let i = 0; i < 5; i++) await settle();
    expect(stopped).toBe(false);
    open();
    await stopping;
    expect(source.calls).toHaveLength(2);
    expect(outcomes).toEqual([expect.objectContaining({ outcome: 'ok' })]);
    expect(await okHours(store, at('2025-09-20T00:00Z'), at('2025-09-21T00:00Z'))).toHaveLength(4);
    expect(existsSync(join(dataDir, INGEST_LOCK_FILE))).toBe(false);
  });

  it('stop() aborts an ingest that outlives the grace period, keeps nothing half done, frees the lock', async () => {
    const { store, dataDir, host, outcomes, source } = await started();
    await host.stop(10);
    expect(outcomes).toEqual([{ outcome: 'error', error: 'the host is stopping' }]);
    expect(source.calls).toHaveLength(1);
    expect(await ledgerBetween(store, at('2025-09-20T00:00Z'), at('2025-09-21T00:00Z'))).toEqual(new Map());
    expect(existsSync(join(dataDir, INGEST_LOCK_FILE))).toBe(false);
  });
});

describe('findLastOkHour', () => {
  it('ignores an ok hour that has not ended yet', async () => {
    const { store, source } = await setup();
    const deps = await fakeDeps(source, fakeCarbon())(ingestConfig('/unused', 24), {
      store,
      clock: fixedClock(0),
      log: silentLogger,
      signal: new AbortController().signal,
    });
    await ingestRange(deps, at('2025-09-20T08:00Z'), at('2025-09-20T11:00Z'));
    expect(await findLastOkHour(store, at('2025-09-20T10:30Z'))).toBe(at('2025-09-20T09:00Z'));
    expect(await findLastOkHour(store, at('2025-09-20T11:00Z'))).toBe(at('2025-09-20T10:00Z'));
  });
});
