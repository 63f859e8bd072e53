import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { main } from '../../../src/cli';
import { fixedClock } from '../../../src/domain/clock';
import { ingestRunRecorder } from '../../../src/ingest/metrics';
import { INGEST_PLUGIN, scheduledIngestPlugin } from '../../../src/ingest/plugin';
import { ingestRange } from '../../../src/ingest/run';
import type { Logger } from '../../../src/log';
import { createServiceMetrics } from '../../../src/metrics';
import { PluginHost } from '../../../src/plugins/host';
import type { CpuSecondsSource, SourceHour } from '../../../src/ingest/ports';
import { emptyRegistry } from '../../../src/plugins/workspaces/registry';
import { openJsonStore } from '../../../src/store/json';
import { fakeCarbon, hoursIn, ingestConfig, ledgerBetween, tempDirs } from '../../support/fake-ingest';
import { manualScheduler } from '../../support/manual-scheduler';

const dirs = tempDirs('cl-no-data-');
afterEach(() => dirs.cleanup());

const at = (iso: string) => Date.parse(iso);

/** Answers every hour ok; only the hours in `withData` hold an instance. */
function sparseSource(withData: ReadonlySet<number>): CpuSecondsSource {
  return {
    async fetchHours(fromHour, toHour) {
      const answers = new Map<number, SourceHour>();
      for (const hour of hoursIn(fromHour, toHour)) {
        const rows = withData.has(hour)
          ? [
              {
                hour,
                instance: 'vm-1:9100',
                labels: { instance: 'vm-1:9100', cloud_project_name: 'P', machine_name: 'M' },
                busyCpuSeconds: 100,
                idleCpuSeconds: 3500,
              },
            ]
          : [];
        answers.set(hour, { status: 'ok', rows });
      }
      return answers;
    },
  };
}

function recordingLogger(): Logger & { warnings: Array<{ msg: string; fields?: Record<string, unknown> }> } {
  const log = {
    warnings: [] as Array<{ msg: string; fields?: Record<string, unknown> }>,
    info: () => undefined,
    warn: (msg: string, fields?: Record<string, unknown>) => void log.warnings.push({ msg, fields }),
    error: () => undefined,
    child: () => log,
  };
  return log;
}

describe('hours in which no instance had samples', () => {
  it('a scheduled run stores them ok, warns naming the hours and the selector, and counts them in /metrics', async () => {
    const dataDir = dirs.make();
    const store = await openJsonStore({ dataDir, log: recordingLogger() });
    const metrics = createServiceMetrics();
    const log = recordingLogger();
    const now = at('2025-09-20T10:05:00Z');
    const host = new PluginHost({
      store,
      clock: fixedClock(now),
      log,
      scheduler: manualScheduler(),
      onRun: ingestRunRecorder(metrics),
    });
    host.register(
      scheduledIngestPlugin({
        schedule: '5 * * * *',
        firstRunHours: 4,
        makeDeps: async (config, ctx) => ({
          source: sparseSource(new Set([at('2025-09-20T09:00:00Z')])),
          carbon: fakeCarbon(),
          registry: emptyRegistry,
          store: ctx.store,
          energy: config.energy,
          labels: config.prometheus.labels,
          sourceQuery: 'node_cpu_seconds_total{job="node"}',
          stepHours: config.prometheus.chunkHours,
          now: () => ctx.clock.now(),
          log: ctx.log,
        }),
      }),
      ingestConfig(dataDir, 24),
    );
    await host.runNow(INGEST_PLUGIN);
    await host.stop();

    const ledger = await ledgerBetween(store, at('2025-09-20T06:00:00Z'), at('2025-09-20T10:00:00Z'));
    expect([...ledger.values()].map((record) => record.status)).toEqual(['ok', 'ok', 'ok', 'ok']);
    const warning = log.warnings.find((w) => w.msg.startsWith('no instance had samples'));
    expect(warning?.fields).toMatchObject({
      noDataHours: 3,
      hours: ['2025-09-20T06:00:00.000Z/2025-09-20T09:00:00.000Z'],
      query: 'node_cpu_seconds_total{job="node"}',
    });
    expect((await metrics.ingestNoDataHours.get()).values[0].value).toBe(3);
    expect(await metrics.registry.metrics()).toContain('carbonledger_ingest_no_data_hours_total 3');
    await store.close();
  });

  describe('the ingest command against a Prometheus that answers with no series', () => {
    let prometheus: Server;
    let url: string;
    beforeAll(async () => {
      prometheus = createServer((_req, res) => {
        res.setHeader('content-type', 'application/json');
        res.end(JSON.stringify({ status: 'success', data: { resultType: 'matrix', result: [] } }));
      });
      await new Promise<void>((listening) => prometheus.listen(0, '127.0.0.1', () => listening()));
      url = `http://127.0.0.1:${(prometheus.address() as AddressInfo).port}`;
    });
    afterAll(() => new Promise((closed) => prometheus.close(closed)));

    async function ingest(extra: string[]) {
      let stderr = '';
      const write = jest
        .spyOn(process.stderr, 'write')
        .mockImplementation((chunk) => ((stderr += String(chunk)), true));
      const saved = { ...process.env };
      const dataDir = join(dirs.make(), 'data');
      Object.assign(process.env, { CARBONLEDGER_CONFIG: '', PROMETHEUS_URL: url, DATA_DIR: dataDir });
      try {
        const argv = ['ingest', '--from', '2025-09-21T00:00:00Z', '--to', '2025-09-21T03:00:00Z', ...extra];
        return { code: await main(argv), stderr, dataDir };
      } finally {
        process.env = saved;
        write.mockRestore();
      }
    }

    it('exits 0 (the hours are ok) and ends with a summary line saying no instance had samples, naming the series', async () => {
      const { code, stderr, dataDir } = await ingest([]);
      expect(code).toBe(0);
      expect(stderr).toContain(
        'carbonledger ingest: 3 hours, 3 ok; no data: in 3 of the hours answered ok ' +
          '(from 2025-09-21T00:00:00.000Z/2025-09-21T03:00:00.000Z) no instance had samples of ' +
          'node_cpu_seconds_total{}',
      );
      expect(stderr).toContain('"msg":"no instance had samples in these hours: stored ok with no usage"');
      const store = await openJsonStore({ dataDir, log: recordingLogger() });
      const ledger = await ledgerBetween(store, at('2025-09-21T00:00:00Z'), at('2025-09-21T03:00:00Z'));
      expect([...ledger.values()].map((r) => r.status)).toEqual(['ok', 'ok', 'ok']);
      await store.close();
    });

    it('exits 4 with --require-data, a code apart from the contract’s 0, 2 and 3', async () => {
      expect((await ingest(['--require-data'])).code).toBe(4);
    });
  });

  it('lists no hour, and warns of none, when every hour had an instance', async () => {
    const store = await openJsonStore({ dataDir: dirs.make(), log: recordingLogger() });
    const log = recordingLogger();
    const [from, to] = [at('2025-09-20T06:00:00Z'), at('2025-09-20T10:00:00Z')];
    const report = await ingestRange(
      {
        source: sparseSource(new Set(hoursIn(from, to))),
        carbon: fakeCarbon(),
        registry: emptyRegistry,
        store,
        energy: ingestConfig('unused', 24).energy,
        labels: ingestConfig('unused', 24).prometheus.labels,
        stepHours: 24,
        now: () => to,
        log,
      },
      from,
      to,
    );
    expect(report).toMatchObject({ okHours: 4, instanceHours: 4, noDataHours: [] });
    expect(log.warnings).toEqual([]);
    await store.close();
  });
});
