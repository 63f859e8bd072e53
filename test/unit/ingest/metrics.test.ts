import { z } from 'zod';
import { fixedClock } from '../../../src/domain/clock';
import { acquireIngestLock } from '../../../src/store/json/lock';
import { ingestRunRecorder, primeLastOkHour, recordRunOutcome } from '../../../src/ingest/metrics';
import { INGEST_PLUGIN, scheduledIngestPlugin } from '../../../src/ingest/plugin';
import { RECONCILE_PLUGIN, reconcilePlugin } from '../../../src/ingest/reconcile';
import { silentLogger, type Logger } from '../../../src/log';
import { createServiceMetrics, type ServiceMetrics } from '../../../src/metrics';
import { PluginHost } from '../../../src/plugins/host';
import { openJsonStore } from '../../../src/store/json';
import type { Store } from '../../../src/store/store';
import { fakeCarbon, fakeCpuSource, fakeDeps, ingestConfig, tempDirs } from '../../support/fake-ingest';
import { manualScheduler } from '../../support/manual-scheduler';

const dirs = tempDirs('cl-ingest-metrics-');
afterEach(() => dirs.cleanup());

async function runsByOutcome(metrics: ServiceMetrics): Promise<Record<string, number>> {
  const { values } = await metrics.ingestRuns.get();
  return Object.fromEntries(values.map((v) => [String(v.labels.outcome), v.value]));
}
const failedHours = async (metrics: ServiceMetrics) =>
  (await metrics.ingestFailedHours.get()).values[0].value;
const lastOkHour = async (metrics: ServiceMetrics) => (await metrics.lastOkHour.get()).values[0]?.value;

describe('recordRunOutcome', () => {
  it('counts runs by outcome, adds failed hours, and sets the last ok hour', async () => {
    const metrics = createServiceMetrics();
    recordRunOutcome(metrics, {
      outcome: 'failed',
      report: { ok: false, detail: { failedHours: 3, lastOkHour: '2025-09-20T09:00:00.000Z' } },
    });
    recordRunOutcome(metrics, {
      outcome: 'ok',
      report: { ok: true, detail: { failedHours: 0, lastOkHour: null } },
    });
    recordRunOutcome(metrics, { outcome: 'timeout' });
    recordRunOutcome(metrics, { outcome: 'skipped', reason: 'still running' });
    recordRunOutcome(metrics, { outcome: 'error', error: 'boom' });
    // A run that found the ingest lock held is a skip, not a failure.
    recordRunOutcome(metrics, { outcome: 'failed', report: { ok: false, detail: { skipped: 'locked' } } });
    expect(await runsByOutcome(metrics)).toEqual({ failed: 1, ok: 1, timeout: 1, skipped: 2, error: 1 });
    expect(await failedHours(metrics)).toBe(3);
    expect(await lastOkHour(metrics)).toBe(Date.parse('2025-09-20T09:00:00Z') / 1000);
  });
});

describe('ingestRunRecorder as the PluginHost onRun listener', () => {
  it('records scheduled ingest runs, skips included, and ignores other plugins', async () => {
    const dataDir = dirs.make();
    const store = await openJsonStore({ dataDir, log: silentLogger });
    const metrics = createServiceMetrics();
    const source = fakeCpuSource();
    source.failing.add(Date.parse('2025-09-20T09:00:00Z'));
    const scheduler = manualScheduler();
    const host = new PluginHost({
      store,
      clock: fixedClock(Date.parse('2025-09-20T10:05:00Z')),
      log: silentLogger,
      scheduler,
      onRun: ingestRunRecorder(metrics),
    });
    host.register(
      scheduledIngestPlugin({
        schedule: '5 * * * *',
        firstRunHours: 3,
        makeDeps: fakeDeps(source, fakeCarbon()),
      }),
      ingestConfig(dataDir, 24),
    );
    host.register(
      {
        name: 'other',
        configSchema: z.undefined(),
        timeoutMs: 1000,
        run: async () => ({ ok: true, detail: { failedHours: 99 } }),
      },
      undefined,
    );
    await host.runNow(INGEST_PLUGIN);
    await host.runNow('other');
    const held = await acquireIngestLock(dataDir, silentLogger);
    await host.runNow(INGEST_PLUGIN);
    await held.release();
    expect(await runsByOutcome(metrics)).toEqual({ failed: 1, skipped: 1 });
    expect(await failedHours(metrics)).toBe(1);
    expect(await lastOkHour(metrics)).toBe(Date.parse('2025-09-20T08:00:00Z') / 1000);
    await host.stop();

    // A new process primes the gauge from the ledger before any run.
    const restarted = createServiceMetrics();
    await primeLastOkHour(restarted, store, Date.parse('2025-09-20T12:00:00Z'));
    expect(await lastOkHour(restarted)).toBe(Date.parse('2025-09-20T08:00:00Z') / 1000);
  });

  it('counts the ok hours a run kept against an answer with fewer series', async () => {
    const dataDir = dirs.make();
    const store = await openJsonStore({ dataDir, log: silentLogger });
    const metrics = createServiceMetrics();
    const source = fakeCpuSource();
    const host = new PluginHost({
      store,
      clock: fixedClock(Date.parse('2025-09-20T10:05:00Z')),
      log: silentLogger,
      scheduler: manualScheduler(),
      onRun: ingestRunRecorder(metrics),
    });
    host.register(
      reconcilePlugin({ schedule: '0 2 * * *', makeDeps: fakeDeps(source, fakeCarbon()) }),
      ingestConfig(dataDir, 24),
    );
    await host.runNow(RECONCILE_PLUGIN);
    const before = await store.readDays('INSTANCE', '2025-09-19', ['i-1:9100']);
    for (let hour = 0; hour < 24; hour++)
      source.emptied.add(Date.parse('2025-09-19T00:00:00Z') + hour * 3_600_000);
    await host.runNow(RECONCILE_PLUGIN);
    await host.stop();
    expect(await store.readDays('INSTANCE', '2025-09-19', ['i-1:9100'])).toEqual(before);
    expect((await metrics.ingestKeptHours.get()).values[0].value).toBe(24);
    expect(await runsByOutcome(metrics)).toEqual({ ok: 2 });
    expect(await metrics.registry.metrics()).toMatch(/^carbonledger_ingest_kept_hours_total 24$/m);
  });

  it('a listener that throws is logged and never breaks a run', async () => {
    const errors: string[] = [];
    const log: Logger = {
      info: () => undefined,
      warn: () => undefined,
      error: (msg) => errors.push(msg),
      child: () => log,
    };
    const host = new PluginHost({
      store: {} as Store,
      clock: fixedClock(0),
      log,
      scheduler: manualScheduler(),
      onRun: () => {
        throw new Error('listener broke');
      },
    });
    host.register(
      { name: 'p', configSchema: z.undefined(), timeoutMs: 1000, run: async () => ({ ok: true }) },
      undefined,
    );
    await expect(host.runNow('p')).resolves.toEqual({ outcome: 'ok', report: { ok: true } });
    expect(errors).toEqual(['onRun listener threw']);
  });
});
