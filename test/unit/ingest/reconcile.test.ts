import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fixedClock } from '../../../src/domain/clock';
import { HOUR_MS } from '../../../src/domain/time';
import type { LedgerHour } from '../../../src/domain/usage';
import { acquireIngestLock } from '../../../src/store/json/lock';
import { scheduledIngestPlugin } from '../../../src/ingest/plugin';
import { ingestRange } from '../../../src/ingest/run';
import { contiguousRanges } from '../../../src/ingest/ledger-hours';
import { planReconcile, RECONCILE_PLUGIN, reconcilePlugin } from '../../../src/ingest/reconcile';
import { silentLogger } from '../../../src/log';
import { createCarbonIntensityApiSource, type CarbonIntensitySource } from '../../../src/plugins/carbon';
import { fileIntensityCache } from '../../../src/store/json/intensity-cache';
import { PluginHost, type RunOutcome } from '../../../src/plugins/host';
import { openJsonStore } from '../../../src/store/json';
import type { Store } from '../../../src/store/store';
import {
  fakeCarbon,
  fakeCpuSource,
  fakeDeps,
  ingestConfig,
  ledgerBetween,
  settle,
  tempDirs,
} from '../../support/fake-ingest';
import { manualScheduler } from '../../support/manual-scheduler';
import { periodsEndingAtFromThroughTo } from '../plugins/carbon/fake-carbon-intensity-api';

const CRON = '0 2 * * *';
const at = (iso: string) => Date.parse(iso);
const NOW = at('2025-09-20T02:00:00Z');
const dirs = tempDirs('cl-reconcile-');
afterEach(() => dirs.cleanup());

const ok = (estimated = false): LedgerHour => ({
  status: 'ok',
  intensity: { gPerKwh: 200, estimated, source: estimated ? 'api (fallback)' : 'api' },
  instanceHours: {},
});
const failed: LedgerHour = {
  status: 'failed',
  attempts: 1,
  error: 'x',
  lastAttemptAt: '2025-09-01T00:00:00Z',
};

describe('contiguousRanges', () => {
  it('groups hours into [from, to) runs, whatever their order and repeats', () => {
    const h = (iso: string) => at(iso);
    expect(
      contiguousRanges([
        h('2025-09-01T03:00Z'),
        h('2025-09-01T01:00Z'),
        h('2025-09-01T02:00Z'),
        h('2025-09-01T02:00Z'),
        h('2025-09-01T07:00Z'),
      ]),
    ).toEqual([
      [h('2025-09-01T01:00Z'), h('2025-09-01T04:00Z')],
      [h('2025-09-01T07:00Z'), h('2025-09-01T08:00Z')],
    ]);
    expect(contiguousRanges([])).toEqual([]);
  });
});

describe('planReconcile', () => {
  it('takes yesterday whole, and the failed and estimated hours of the last 7 days only', () => {
    const ledger = new Map<number, LedgerHour>([
      [at('2025-09-13T01:00Z'), failed], // 7 days and an hour back: left alone
      [at('2025-09-13T02:00Z'), failed], // exactly 7 days back: retried
      [at('2025-09-15T10:00Z'), failed],
      [at('2025-09-15T11:00Z'), failed],
      [at('2025-09-15T12:00Z'), ok()],
      [at('2025-09-16T04:00Z'), ok(true)],
      [at('2025-09-18T23:00Z'), failed], // joins yesterday's run
      [at('2025-09-19T05:00Z'), ok(true)], // inside yesterday anyway
      [at('2025-09-20T01:00Z'), failed], // today, complete: retried
      [at('2025-09-20T02:00Z'), failed], // not over yet: left for the hourly ingest
    ]);
    const plan = planReconcile(ledger, NOW + 5 * 60_000);
    expect(plan.yesterday).toEqual([at('2025-09-19T00:00Z'), at('2025-09-20T00:00Z')]);
    expect(plan.failedHours).toEqual([
      at('2025-09-13T02:00Z'),
      at('2025-09-15T10:00Z'),
      at('2025-09-15T11:00Z'),
      at('2025-09-18T23:00Z'),
      at('2025-09-20T01:00Z'),
    ]);
    expect(plan.estimatedHours).toEqual([at('2025-09-16T04:00Z'), at('2025-09-19T05:00Z')]);
    expect(plan.ranges).toEqual([
      [at('2025-09-13T02:00Z'), at('2025-09-13T03:00Z')],
      [at('2025-09-15T10:00Z'), at('2025-09-15T12:00Z')],
      [at('2025-09-16T04:00Z'), at('2025-09-16T05:00Z')],
      [at('2025-09-18T23:00Z'), at('2025-09-20T00:00Z')],
      [at('2025-09-20T01:00Z'), at('2025-09-20T02:00Z')],
    ]);
  });
});

async function setup(carbonForReconcile: CarbonIntensitySource = fakeCarbon()) {
  const dataDir = dirs.make();
  const store = await openJsonStore({ dataDir, log: silentLogger });
  const clock = fixedClock(NOW);
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
  const config = ingestConfig(dataDir, 6);
  host.register(reconcilePlugin({ schedule: CRON, makeDeps: fakeDeps(source, carbonForReconcile) }), config);
  host.start();
  /** Ingests [from, to) as an earlier run would have, with its own sources. */
  async function ingestBefore(
    from: number,
    to: number,
    earlier: { failing?: number[]; estimated?: number[] },
  ) {
    const src = fakeCpuSource();
    for (const hour of earlier.failing ?? []) src.failing.add(hour);
    const carbon = fakeCarbon();
    for (const hour of earlier.estimated ?? []) carbon.estimated.add(hour);
    const deps = await fakeDeps(src, carbon)(config, {
      store,
      clock,
      log: silentLogger,
      signal: new AbortController().signal,
    });
    await ingestRange(deps, from, to);
  }
  async function tick() {
    scheduler.tick(CRON);
    while (host.isRunning(RECONCILE_PLUGIN)) await settle();
  }
  return { dataDir, store, clock, source, host, outcomes, ingestBefore, tick };
}

const statusOf = async (store: Store, iso: string) =>
  (await ledgerBetween(store, at(iso), at(iso) + HOUR_MS)).get(at(iso));

describe('the reconcile plugin', () => {
  it('re-ingests yesterday and retries failed hours of the last 7 days, in ranges, leaving older ones', async () => {
    const { store, source, outcomes, ingestBefore, tick, host } = await setup();
    const oldFailed = at('2025-09-10T05:00Z');
    const recentFailed = [at('2025-09-15T10:00Z'), at('2025-09-15T11:00Z'), at('2025-09-15T12:00Z')];
    await ingestBefore(at('2025-09-10T00:00Z'), NOW, { failing: [oldFailed, ...recentFailed] });
    await tick();
    expect(source.calls).toEqual([
      [at('2025-09-15T10:00Z'), at('2025-09-15T13:00Z')],
      // Yesterday, in steps of chunkHours (6).
      [at('2025-09-19T00:00Z'), at('2025-09-19T06:00Z')],
      [at('2025-09-19T06:00Z'), at('2025-09-19T12:00Z')],
      [at('2025-09-19T12:00Z'), at('2025-09-19T18:00Z')],
      [at('2025-09-19T18:00Z'), at('2025-09-20T00:00Z')],
    ]);
    for (const hour of recentFailed)
      expect((await statusOf(store, new Date(hour).toISOString()))?.status).toBe('ok');
    expect(await statusOf(store, '2025-09-10T05:00:00Z')).toMatchObject({ status: 'failed', attempts: 1 });
    expect(outcomes).toEqual([
      {
        outcome: 'ok',
        report: {
          ok: true,
          detail: {
            yesterday: '2025-09-19',
            ranges: 2,
            retriedFailedHours: 3,
            refetchedEstimatedHours: 0,
            okHours: 27,
            failedHours: 0,
            noDataHours: 0,
            keptHours: 0,
            lastOkHour: '2025-09-20T01:00:00.000Z',
          },
        },
      },
    ]);
    await host.stop();
  });

  it('reports a retried hour that fails again, and keeps it failed', async () => {
    const { store, source, outcomes, ingestBefore, tick, host } = await setup();
    const hour = at('2025-09-17T08:00Z');
    await ingestBefore(at('2025-09-17T00:00Z'), NOW, { failing: [hour] });
    source.failing.add(hour);
    await tick();
    expect(await statusOf(store, '2025-09-17T08:00:00Z')).toMatchObject({ status: 'failed', attempts: 2 });
    expect(outcomes).toEqual([
      expect.objectContaining({ outcome: 'failed', report: expect.objectContaining({ ok: false }) }),
    ]);
    expect(outcomes[0]).toMatchObject({ report: { detail: { failedHours: 1, retriedFailedHours: 1 } } });
    await host.stop();
  });

  it('re-fetches the carbon intensity of hours stored as estimated', async () => {
    const carbon = fakeCarbon();
    const { store, source, ingestBefore, tick, host } = await setup(carbon);
    const estimated = at('2025-09-16T04:00Z');
    await ingestBefore(at('2025-09-16T00:00Z'), NOW, { estimated: [estimated] });
    expect(await statusOf(store, '2025-09-16T04:00:00Z')).toMatchObject({ intensity: { estimated: true } });
    await tick();
    expect(carbon.calls[0]).toEqual([estimated, estimated + HOUR_MS]);
    expect(source.calls[0]).toEqual([estimated, estimated + HOUR_MS]);
    expect(await statusOf(store, '2025-09-16T04:00:00Z')).toMatchObject({
      status: 'ok',
      intensity: { gPerKwh: 100, estimated: false },
    });
    await host.stop();
  });

  it('asks the carbon intensity API again for an estimated hour even with the intensity cache', async () => {
    const dataDirCache = dirs.make();
    const asked: string[] = [];
    let apiUp = false;
    const fakeFetch: typeof fetch = async (input) => {
      const url = String(input);
      asked.push(url);
      if (!apiUp) return new Response('down', { status: 503, statusText: 'Service Unavailable' });
      const [from, to] = url
        .split('/intensity/')[1]
        .split('/')
        .map((t) => Date.parse(t.replace('Z', ':00Z')));
      const data = periodsEndingAtFromThroughTo(from, to, () => ({ forecast: 150, actual: 150 }));
      return new Response(JSON.stringify({ data }), { headers: { 'content-type': 'application/json' } });
    };
    // A new source (and cache) each time, as every run builds its own: the cache file is read afresh.
    const api: CarbonIntensitySource = {
      intensities: (from, to, signal) =>
        createCarbonIntensityApiSource(
          { url: 'http://carbon.invalid', fallbackGPerKwh: 222, timeoutMs: 5000 },
          { fetch: fakeFetch, cache: fileIntensityCache(join(dataDirCache, 'carbon')), now: () => NOW },
        ).intensities(from, to, signal),
    };
    const { store, ingestBefore, tick, host } = await setup(api);
    // The API was down when 2025-09-16T04:00 was first ingested: fallback, estimated.
    const hour = at('2025-09-16T04:00Z');
    await ingestBefore(at('2025-09-19T00:00Z'), NOW, {});
    {
      const deps = await fakeDeps(fakeCpuSource(), api)(ingestConfig('/unused', 6), {
        store,
        clock: fixedClock(NOW),
        log: silentLogger,
        signal: new AbortController().signal,
      });
      await ingestRange(deps, hour, hour + HOUR_MS);
    }
    expect(await statusOf(store, '2025-09-16T04:00:00Z')).toMatchObject({
      intensity: { gPerKwh: 222, estimated: true },
    });
    expect(readdirSync(dataDirCache)).toEqual([]); // nothing estimated was cached
    // Even a cache file that did keep it estimated (an older version, a hand edit) is not trusted.
    mkdirSync(join(dataDirCache, 'carbon'));
    writeFileSync(
      join(dataDirCache, 'carbon', '2025-09.json'),
      JSON.stringify({ '2025-09-16T04:00:00.000Z': { gPerKwh: 222, estimated: true, source: 'x' } }),
    );
    apiUp = true;
    asked.length = 0;
    await tick();
    expect(asked[0]).toBe('http://carbon.invalid/intensity/2025-09-16T04:00Z/2025-09-16T05:00Z');
    expect(await statusOf(store, '2025-09-16T04:00:00Z')).toMatchObject({
      intensity: { gPerKwh: 150, estimated: false },
    });
    await host.stop();
  });

  it('skips (ok false) while the ingest lock is held, touching nothing', async () => {
    const { dataDir, source, outcomes, tick, host } = await setup();
    const held = await acquireIngestLock(dataDir, silentLogger, { purpose: 'prometheus-ingest' });
    await tick();
    expect(source.calls).toEqual([]);
    expect(outcomes).toEqual([
      {
        outcome: 'failed',
        report: {
          ok: false,
          detail: expect.objectContaining({
            skipped: 'locked',
            reason: expect.stringContaining('(prometheus-ingest)'),
          }),
        },
      },
    ]);
    await held.release();
    await host.stop();
  });

  it('an ingest and a reconcile in one process never run at once', async () => {
    const { dataDir, store, clock, outcomes, host } = await setup();
    // A second host on the same store and dataDir, as serve registers both plugins on one.
    const gated = fakeCpuSource();
    let open!: () => void;
    gated.gate = new Promise<void>((resolve) => (open = resolve));
    const other = new PluginHost({ store, clock, log: silentLogger, scheduler: manualScheduler() });
    other.register(
      scheduledIngestPlugin({ schedule: '5 * * * *', makeDeps: fakeDeps(gated, fakeCarbon()) }),
      ingestConfig(dataDir, 6),
    );
    const ingesting = other.runNow('prometheus-ingest');
    // It holds the lock once it asks its source.
    while (gated.calls.length === 0) await settle();
    await host.runNow(RECONCILE_PLUGIN);
    expect(outcomes).toEqual([
      expect.objectContaining({
        outcome: 'failed',
        report: expect.objectContaining({ detail: expect.objectContaining({ skipped: 'locked' }) }),
      }),
    ]);
    open();
    await expect(ingesting).resolves.toMatchObject({ outcome: 'ok' });
    await expect(host.runNow(RECONCILE_PLUGIN)).resolves.toMatchObject({ outcome: 'ok' });
    await other.stop();
    await host.stop();
  });
});
