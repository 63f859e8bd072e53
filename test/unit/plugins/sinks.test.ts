import { ConfigError, parseConfig } from '../../../src/config';
import { fixedClock } from '../../../src/domain/clock';
import { DAY_MS, HOUR_MS } from '../../../src/domain/time';
import { RECONCILE_PLUGIN } from '../../../src/ingest/reconcile';
import { registerIngestion } from '../../../src/ingest/schedule';
import { silentLogger } from '../../../src/log';
import { createServiceMetrics } from '../../../src/metrics';
import { PluginHost, type RunOutcome } from '../../../src/plugins/host';
import { PERSEUS_SINK, perseusSinkPlugin } from '../../../src/plugins/perseus/sink';
import { allListeners, pluginRunRecorder } from '../../../src/plugins/run-metrics';
import { jsonDeliveryLog } from '../../../src/store/json/deliveries';
import { jsonProjectUsers } from '../../../src/store/json/project-users';
import { openJsonStore } from '../../../src/store/json';
import {
  fakeCarbon,
  fakeCpuSource,
  fakeDeps,
  ingestConfig,
  settle,
  tempDirs,
} from '../../support/fake-ingest';
import { manualScheduler } from '../../support/manual-scheduler';
import { startFakePerseus } from '../../support/perseus-server';

const dirs = tempDirs('cl-sinks-');
afterEach(() => dirs.cleanup());

describe('sinks in the plugin host', () => {
  it('a config error names its path under sinks.perseus, from the config file and from the host', () => {
    expect(() =>
      parseConfig({ sinks: { perseus: { url: 'ftp://x', token: 't', projects: {}, resource: 'r' } } }),
    ).toThrow(/sinks\.perseus\.url: expected an http\(s\) URL/);
    expect(() =>
      parseConfig({ sinks: { perseus: { url: 'http://x', projects: {}, resource: 'r', unit: 'gpu' } } }),
    ).toThrow(ConfigError);
    const host = new PluginHost({ store: {} as never, clock: fixedClock(0), log: silentLogger });
    expect(() =>
      host.register(
        perseusSinkPlugin({
          capabilities: () => ({
            deliveries: jsonDeliveryLog(dirs.make()),
            projectUsers: jsonProjectUsers(dirs.make()),
          }),
        }),
        { url: 'http://x' },
      ),
    ).toThrow(/sinks\.perseus\.token: expected the bearer token/);
  });

  it('runs PERSEUS after each reconcile, and /metrics counts its runs, failures and last success', async () => {
    const now = Date.parse('2025-03-12T02:00:00Z');
    const perseus = await startFakePerseus('tok');
    const dataDir = dirs.make();
    const store = await openJsonStore({ dataDir });
    const metrics = createServiceMetrics();
    const outcomes: Array<[string, RunOutcome['outcome']]> = [];
    const scheduler = manualScheduler();
    const host = new PluginHost({
      store,
      clock: fixedClock(now),
      log: silentLogger,
      scheduler,
      onRun: allListeners(
        pluginRunRecorder(metrics, () => now),
        (name, o) => outcomes.push([name, o.outcome]),
      ),
    });
    try {
      const config = parseConfig({
        store: { dataDir },
        sinks: {
          perseus: {
            url: perseus.url,
            token: 'tok',
            projects: { P: 'oid-p' },
            resource: 'cloud',
            lookbackDays: 1,
          },
        },
      });
      const source = fakeCpuSource();
      registerIngestion(
        host,
        { ...config, ...ingestConfig(dataDir, 24) },
        { makeDeps: fakeDeps(source, fakeCarbon()) },
      );
      host.start();
      // Yesterday's hour 3 fails in the reconcile: the day is not complete and is not sent.
      source.failing.add(now - 2 * HOUR_MS - DAY_MS + 3 * HOUR_MS);
      scheduler.tick('0 2 * * *');
      while (host.isRunning(RECONCILE_PLUGIN) || host.isRunning(PERSEUS_SINK)) await settle();
      expect(outcomes).toEqual([
        [RECONCILE_PLUGIN, 'failed'],
        [PERSEUS_SINK, 'ok'],
      ]);
      expect(perseus.requests).toHaveLength(0);

      // The next reconcile completes the day; PERSEUS gets it.
      source.failing.clear();
      scheduler.tick('0 2 * * *');
      while (host.isRunning(RECONCILE_PLUGIN) || host.isRunning(PERSEUS_SINK)) await settle();
      expect(outcomes.slice(2)).toEqual([
        [RECONCILE_PLUGIN, 'ok'],
        [PERSEUS_SINK, 'ok'],
      ]);
      expect(perseus.entries.map((e) => [e.projectOid, e.body.value])).toEqual([['oid-p', 24]]);
    } finally {
      await host.stop();
      await store.close();
      await perseus.close();
    }
    const text = await metrics.registry.metrics();
    expect(text).toContain('carbonledger_plugin_runs_total{plugin="perseus",outcome="ok"} 2');
    expect(text).toContain('carbonledger_plugin_failures_total{plugin="reconcile"} 1');
    expect(text).toContain(
      `carbonledger_plugin_last_success_timestamp_seconds{plugin="perseus"} ${now / 1000}`,
    );
  });
});
