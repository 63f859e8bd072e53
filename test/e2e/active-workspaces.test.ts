import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { graphql, type GraphQLSchema } from 'graphql';
import { parseConfig } from '../../src/config';
import { systemClock } from '../../src/domain/clock';
import { silentLogger } from '../../src/log';
import { createActivePoller, type ActivePoller } from '../../src/plugins/active';
import { PluginHost } from '../../src/plugins/host';
import { createPrometheusClient, type PrometheusClient } from '../../src/plugins/prometheus/client';
import { buildAppSchema, createRequestContext } from '../../src/app-schema';
import { ensureDebianPackage } from '../../src/bench/debian';
import { memoryUsageStore } from '../support/usage-store';
import {
  NODE_EXPORTER_BINARY,
  readCpuCounters,
  startNodeExporter,
  startScrapingPrometheus,
  type CpuCounters,
  type WatchedProcess,
} from '../support/node-exporter';

/**
 * The poller against a real node_exporter scraped every second by a real Prometheus: this
 * machine is the one running workspace. Project and host are target labels (so `up` has them too);
 * the machine type is added by metric relabelling, so only the CPU series carry it and the poller
 * must join `up` on `instance`.
 */
const PROJECT = 'E2E Lab';
const MACHINE = 'Artemis (Matlab)';
const HOST = 'e2e-workspace';
const WAIT_MS = 8_000;

const store = memoryUsageStore({ entries: [], ledger: {} });
let dir: string;
let nodeExporter: WatchedProcess;
let prometheus: WatchedProcess;
let client: PrometheusClient;
let poller: ActivePoller;
let host: PluginHost;
let schema: GraphQLSchema;

function prometheusYml(target: string): string {
  return `global:
  scrape_interval: 1s
  scrape_timeout: 1s
scrape_configs:
  - job_name: node
    static_configs:
      - targets: ['${target}']
        labels:
          cloud_project_name: '${PROJECT}'
          host: '${HOST}'
    metric_relabel_configs:
      - target_label: machine_name
        replacement: '${MACHINE}'
`;
}

/** Retries `probe` until it returns a value, or fails naming what it waited for. */
async function waitFor<T>(what: string, probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + WAIT_MS;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`gave up after ${WAIT_MS} ms waiting for ${what}`);
    await sleep(100);
  }
}

/** Unix seconds of Prometheus' latest scrape of node_exporter, and whether it succeeded. */
async function lastScrape(): Promise<{ at: number; up: boolean } | undefined> {
  const [up] = await client.query({ query: 'up{job="node"}', time: Date.now() / 1000 });
  const [at] = await client.query({ query: 'timestamp(up{job="node"})', time: Date.now() / 1000 });
  return up && at ? { at: Number(at.value[1]), up: up.value[1] === '1' } : undefined;
}

const WORKSPACE_FIELDS =
  'id instance host machineName project user experiment startedAt busyKwh idleKwh busyGco2eq idleGco2eq';

interface Workspace {
  id: string;
  instance: string;
  host: string;
  machineName: string;
  project: string;
  user: string | null;
  experiment: string | null;
  startedAt: string;
  busyKwh: number;
  idleKwh: number;
  busyGco2eq: number;
  idleGco2eq: number;
}

/** `activeWorkspaces` through the real schema, as a request would ask it. */
async function activeWorkspaces(filter: Record<string, string> = {}): Promise<Workspace[]> {
  const result = await graphql({
    schema,
    source: `query ($project: String, $user: String, $machineName: String) {
      activeWorkspaces(project: $project, user: $user, machineName: $machineName) { ${WORKSPACE_FIELDS} }
    }`,
    variableValues: filter,
    contextValue: createRequestContext({
      store,
      clock: systemClock,
      log: silentLogger,
      activeWorkspaces: poller.source,
    }),
  });
  if (result.errors) throw new Error(result.errors.map((e) => e.message).join('; '));
  return (result.data as { activeWorkspaces: Workspace[] }).activeWorkspaces;
}

/** /proc/stat's btime: the boot time node_exporter reports, in Unix seconds. */
async function procStatBootTime(): Promise<number> {
  const btime = /^btime (\d+)$/m.exec(await readFile('/proc/stat', 'utf8'));
  if (!btime) throw new Error('no btime line in /proc/stat');
  return Number(btime[1]);
}

beforeAll(async () => {
  await ensureDebianPackage('prometheus-node-exporter', [NODE_EXPORTER_BINARY]);
  dir = await mkdtemp(join(tmpdir(), 'carbonledger-active-e2e-'));
  const registryFile = join(dir, 'workspaces.json');
  await writeFile(
    registryFile,
    JSON.stringify([
      {
        hostname: HOST,
        owner: 'alice',
        experiment: 'RB2500001',
        created_time: '2020-01-01T00:00:00Z',
        deleted_time: null,
      },
    ]),
  );
  nodeExporter = await startNodeExporter(dir);
  prometheus = await startScrapingPrometheus(dir, prometheusYml(nodeExporter.address));
  client = createPrometheusClient({ url: prometheus.url, timeoutMs: 2000, attempts: 1 });

  const config = parseConfig({
    prometheus: { url: prometheus.url, timeoutMs: 2000, attempts: 1 },
    workspaces: { file: registryFile },
    store: { dataDir: dir },
  });
  poller = createActivePoller({ config, log: silentLogger });
  host = new PluginHost({ store, clock: systemClock, log: silentLogger });
  host.register(poller.plugin, undefined);
  schema = await buildAppSchema();

  // A couple of good scrapes, so the counters and `up` are there to be read.
  const firstScrape = await waitFor('a first scrape', lastScrape);
  await waitFor('a second scrape', async () => ((await lastScrape())?.at ?? 0) > firstScrape.at || undefined);
}, 60_000);

afterAll(async () => {
  await host?.stop();
  await Promise.all([nodeExporter?.stop(), prometheus?.stop()]);
  if (dir) await rm(dir, { recursive: true, force: true });
});

// Default energy model and carbon: 12 W per busy core, 1 W per idle core, PUE 1, 200 g/kWh.
const busyKwhOf = (counters: CpuCounters) => (counters.busyCpuSeconds * 12) / 3_600_000;
const idleKwhOf = (counters: CpuCounters) => counters.idleCpuSeconds / 3_600_000;
/** Half a CPU-second of slack for counters that wobble (iowait and idle are known to). */
const SLACK_KWH = (0.5 * 12) / 3_600_000;

describe('active workspaces from a real node_exporter', () => {
  it('lists this machine since its boot, with the energy of its CPU counters', async () => {
    // Counters read before and after the poll bracket what Prometheus scraped in between.
    const before = await readCpuCounters(nodeExporter);
    const readAt = Date.now() / 1000;
    await waitFor('a scrape after the counters were read', async () =>
      ((await lastScrape())?.at ?? 0) > readAt ? true : undefined,
    );
    expect(await host.runNow('active-workspaces')).toMatchObject({ outcome: 'ok' });
    const after = await readCpuCounters(nodeExporter);

    const bootTime = await procStatBootTime();
    const [workspace, ...others] = await activeWorkspaces();
    expect(others).toEqual([]);
    expect(workspace).toMatchObject({
      instance: nodeExporter.address,
      host: HOST,
      machineName: MACHINE,
      project: PROJECT,
      user: 'alice',
      experiment: 'RB2500001',
      startedAt: new Date(bootTime * 1000).toISOString(),
    });
    expect(before.bootTimeSeconds).toBe(bootTime);

    expect(workspace.busyKwh).toBeGreaterThanOrEqual(busyKwhOf(before) - SLACK_KWH);
    expect(workspace.busyKwh).toBeLessThanOrEqual(busyKwhOf(after) + SLACK_KWH);
    expect(workspace.idleKwh).toBeGreaterThanOrEqual(idleKwhOf(before) - SLACK_KWH);
    expect(workspace.idleKwh).toBeLessThanOrEqual(idleKwhOf(after) + SLACK_KWH);
    expect(workspace.busyGco2eq).toBeCloseTo(workspace.busyKwh * 200, 9);
    expect(workspace.idleGco2eq).toBeCloseTo(workspace.idleKwh * 200, 9);

    // The premise: counters since boot add up to (nearly) every CPU's whole uptime.
    const cpuSecondsSinceBoot = after.busyCpuSeconds + after.idleCpuSeconds;
    const uptimeCpuSeconds = (Date.now() / 1000 - bootTime) * after.cpus;
    expect(cpuSecondsSinceBoot / uptimeCpuSeconds).toBeGreaterThan(0.9);
    expect(cpuSecondsSinceBoot / uptimeCpuSeconds).toBeLessThan(1.02);
  });

  it('filters by project, user and machine type, as labelled or by machine key', async () => {
    const instances = async (filter: Record<string, string>) =>
      (await activeWorkspaces(filter)).map((w) => w.instance);
    const here = [nodeExporter.address];
    expect(await instances({ project: PROJECT })).toEqual(here);
    expect(await instances({ project: 'Elsewhere' })).toEqual([]);
    expect(await instances({ user: 'alice' })).toEqual(here);
    expect(await instances({ user: 'bob' })).toEqual([]);
    expect(await instances({ machineName: MACHINE })).toEqual(here);
    expect(await instances({ machineName: 'ARTEMIS_MATLAB', project: PROJECT })).toEqual(here);
    expect(await instances({ machineName: 'Standard CPU' })).toEqual([]);
  });

  it('drops the workspace once node_exporter stops and Prometheus sees it down', async () => {
    await nodeExporter.stop();
    await waitFor('a failed scrape', async () => ((await lastScrape())?.up === false ? true : undefined));
    expect(await host.runNow('active-workspaces')).toMatchObject({ outcome: 'ok' });
    expect(await activeWorkspaces()).toEqual([]);
  });
});
