import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseConfig } from '../../../../src/config';
import { fixedClock } from '../../../../src/domain/clock';
import { jsonLogger } from '../../../../src/log';
import {
  createActivePoller,
  POLL_ON_READ_EVERY_MS,
  SNAPSHOT_KEPT_AFTER_FAILURE_MS,
} from '../../../../src/plugins/active';
import { liveQueries } from '../../../../src/plugins/active/promql';
import { PluginHost } from '../../../../src/plugins/host';
import { readActiveWorkspaces, type ActiveWorkspaceFilter } from '../../../../src/services/active-workspaces';
import type { Store } from '../../../../src/store/store';
import { manualScheduler } from '../../../support/manual-scheduler';
import { connectionRefused } from '../prometheus/fake-prometheus';

const at = (iso: string): number => Date.parse(iso);
const NOW = at('2025-09-21T12:30:00Z');
const QUERIES = liveQueries(['idle'], '');

/** One node_exporter target as Prometheus holds it now. */
interface FakeNode {
  instance: string;
  /** Labels on its CPU series besides `instance` and `job` (from metric relabelling, say). */
  labels: Record<string, string>;
  up: boolean;
  bootTime: string;
  /** CPU seconds since boot, per CPU and mode. */
  cpus: Array<Record<string, number>>;
}

/**
 * Prometheus answering the poller's three instant queries over `nodes`, as handmade JSON: the CPU
 * series joined to `up == 1` on instance, boot times for every target it still holds.
 */
function fakePrometheus(nodes: FakeNode[]) {
  const asked: Array<{ url: string; query: string; time: number }> = [];
  const state = { nodes, refuse: false };
  const vector = (result: Array<{ metric: Record<string, string>; value: string }>) =>
    Response.json({
      status: 'success',
      data: {
        resultType: 'vector',
        result: result.map(({ metric, value }) => ({ metric, value: [NOW / 1000, value] })),
      },
    });
  const cpuSeconds = (idle: boolean) =>
    vector(
      state.nodes
        .filter((node) => node.up)
        .map((node) => ({
          metric: { instance: node.instance, job: 'node', ...node.labels },
          value: String(
            node.cpus
              .flatMap((modes) => Object.entries(modes))
              .filter(([mode]) => (mode === 'idle') === idle)
              .reduce((sum, [, seconds]) => sum + seconds, 0),
          ),
        })),
    );
  const fetchImpl = (async (input: string | URL | Request, init?: RequestInit) => {
    const form = new URLSearchParams(String(init?.body ?? ''));
    const query = form.get('query') ?? '';
    asked.push({ url: String(input), query, time: Number(form.get('time')) });
    if (state.refuse) throw connectionRefused();
    if (query === QUERIES.idle) return cpuSeconds(true);
    if (query === QUERIES.busy) return cpuSeconds(false);
    if (query === QUERIES.bootTime) {
      return vector(
        state.nodes.map((node) => ({ metric: { instance: node.instance }, value: node.bootTime })),
      );
    }
    return Response.json(
      { status: 'error', errorType: 'bad_data', error: `unexpected ${query}` },
      { status: 400 },
    );
  }) as typeof fetch;
  return { fetch: fetchImpl, asked, state };
}

const alice: FakeNode = {
  instance: '10.0.0.1:9100',
  labels: { cloud_project_name: 'IDAaaS', machine_name: 'Artemis (Matlab)', host: 'ws-alice-01' },
  up: true,
  bootTime: String(at('2025-09-21T08:00:00Z') / 1000),
  cpus: [
    { idle: 10_000, user: 3000, system: 600 },
    { idle: 12_000, user: 1000, iowait: 400 },
  ],
};
const mantid: FakeNode = {
  instance: '[fd00::2]:9100',
  labels: { cloud_project_name: 'Mantid', machine_name: 'Standard CPU' },
  up: true,
  bootTime: '1758441600.5',
  cpus: [{ idle: 3600, user: 0, system: 0 }],
};

let dir: string;
let registryFile: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'carbonledger-active-'));
  registryFile = join(dir, 'workspaces.json');
  await writeFile(
    registryFile,
    JSON.stringify([
      {
        hostname: 'ws-alice-01',
        owner: 'alice',
        experiment: 'RB2510',
        created_time: '2025-09-01T00:00:00Z',
        deleted_time: null,
      },
      // Ended before the current hour: the registry holds nobody on this host now.
      {
        hostname: 'fd00::2',
        owner: 'bob',
        experiment: 'RB1',
        created_time: '2025-09-01T00:00:00Z',
        deleted_time: '2025-09-21T12:00:00Z',
      },
    ]),
  );
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

function setUp(nodes: FakeNode[], prometheusLabels: Record<string, string> = {}, pollOnRead = false) {
  const prometheus = fakePrometheus(nodes);
  const logs: Array<Record<string, unknown>> = [];
  const log = jsonLogger((line) => logs.push(JSON.parse(line)));
  const clock = fixedClock(NOW);
  const config = parseConfig({
    prometheus: { url: 'http://prometheus.test:9090', attempts: 1, labels: prometheusLabels },
    workspaces: { file: registryFile },
    store: { dataDir: dir },
  });
  const poller = createActivePoller({ config, log, fetch: prometheus.fetch, clock, pollOnRead });
  const scheduler = manualScheduler();
  const host = new PluginHost({ store: {} as Store, clock, log, scheduler });
  host.register(poller.plugin, undefined);
  return { prometheus, logs, clock, poller, host, scheduler, poll: () => host.runNow('active-workspaces') };
}

// Default energy model: 12 W per busy core, 1 W per idle core; static 200 g/kWh.
const busyKwh = (seconds: number) => (seconds * 12) / 3_600_000;
const idleKwh = (seconds: number) => seconds / 3_600_000;

describe('createActivePoller', () => {
  it('asks a disabled Prometheus nothing: reads answer no live workspace', async () => {
    const prometheus = fakePrometheus([]);
    const config = parseConfig({
      prometheus: { enabled: false },
      sources: { opennebula: { url: 'sqlite:/nonexistent/one.db' } },
      workspaces: { file: registryFile },
      store: { dataDir: dir },
    });
    const poller = createActivePoller({
      config,
      log: jsonLogger(() => undefined),
      fetch: prometheus.fetch,
      clock: fixedClock(NOW),
      pollOnRead: true,
    });
    expect(await poller.source.list()).toEqual([]);
    expect(prometheus.asked).toEqual([]);
  });

  it('polls every minute without an info line for each ok poll', async () => {
    const { logs, poll } = setUp([alice]);
    for (let i = 0; i < 3; i++) expect(await poll()).toMatchObject({ outcome: 'ok' });
    expect(logs.filter((line) => line.level === 'info')).toEqual([]);
  });

  it('lists the running instances from three instant queries, attributed and costed since boot', async () => {
    const { prometheus, poller, poll } = setUp([alice, mantid]);

    expect(await poll()).toMatchObject({ outcome: 'ok', report: { detail: { workspaces: 2, leftOut: 0 } } });

    expect(prometheus.asked).toEqual(
      [QUERIES.idle, QUERIES.busy, QUERIES.bootTime].map((query) => ({
        url: 'http://prometheus.test:9090/api/v1/query',
        query,
        time: NOW / 1000,
      })),
    );
    const [ws1, ws2] = poller.snapshot()!.workspaces;
    expect(poller.snapshot()!.takenAt).toBe(NOW);
    expect(ws1).toEqual({
      instance: '10.0.0.1:9100',
      host: 'ws-alice-01',
      machineName: 'Artemis (Matlab)',
      project: 'IDAaaS',
      user: 'alice',
      experiment: 'RB2510',
      startedAt: at('2025-09-21T08:00:00Z'),
      busyKwh: expect.closeTo(busyKwh(5000), 15),
      idleKwh: expect.closeTo(idleKwh(22_000), 15),
      busyGco2eq: expect.closeTo(busyKwh(5000) * 200, 12),
      idleGco2eq: expect.closeTo(idleKwh(22_000) * 200, 12),
    });
    expect(ws2).toMatchObject({
      instance: '[fd00::2]:9100',
      host: 'fd00::2',
      project: 'Mantid',
      user: null,
      experiment: null,
      startedAt: 1758441600500,
      busyKwh: 0,
      idleKwh: expect.closeTo(idleKwh(3600), 15),
    });
    expect(await poller.source.list()).toBe(poller.snapshot()!.workspaces);
  });

  it('takes user and experiment from their labels where configured, else from the registry', async () => {
    const carols = { ...alice, labels: { ...alice.labels, owner: 'carol' } };
    const { poller, poll } = setUp([carols], { user: 'owner', experiment: 'experiment' });
    await poll();
    expect(poller.snapshot()!.workspaces[0]).toMatchObject({ user: 'carol', experiment: 'RB2510' });
  });

  it('leaves out an instance whose target is down, though Prometheus still has its boot time', async () => {
    const { poller, poll } = setUp([alice, { ...mantid, up: false }]);
    await poll();
    expect(poller.snapshot()!.workspaces.map((w) => w.instance)).toEqual(['10.0.0.1:9100']);
  });

  it('starts a rebooted instance afresh: a new startedAt and figures from its new counters', async () => {
    const { prometheus, clock, poller, poll } = setUp([alice]);
    await poll();
    const before = poller.snapshot()!.workspaces[0];

    clock.advance(60_000);
    const rebootedAt = at('2025-09-21T12:29:00Z');
    prometheus.state.nodes = [
      {
        ...alice,
        bootTime: String(rebootedAt / 1000),
        cpus: [
          { idle: 50, user: 10 },
          { idle: 55, user: 5 },
        ],
      },
    ];
    await poll();

    const after = poller.snapshot()!.workspaces[0];
    expect(after.startedAt).toBe(rebootedAt);
    expect(after.startedAt).not.toBe(before.startedAt);
    expect(after.busyKwh).toBeCloseTo(busyKwh(15), 15);
    expect(after.idleKwh).toBeCloseTo(idleKwh(105), 15);
    expect(after.busyGco2eq).toBeCloseTo(busyKwh(15) * 200, 12);
  });

  it('serves the activeWorkspaces filters through readActiveWorkspaces', async () => {
    const { poller, poll } = setUp([alice, mantid]);
    await poll();
    const instances = async (filter: Partial<ActiveWorkspaceFilter>) =>
      (
        await readActiveWorkspaces(poller.source, { project: null, user: null, machineName: null, ...filter })
      ).map((w) => w.instance);
    expect(await instances({})).toEqual(['10.0.0.1:9100', '[fd00::2]:9100']);
    expect(await instances({ project: 'Mantid' })).toEqual(['[fd00::2]:9100']);
    expect(await instances({ user: 'alice' })).toEqual(['10.0.0.1:9100']);
    // Mantid's VM has no owner: the USER level counts it under `unknown`, and that key finds it.
    expect(await instances({ user: 'unknown' })).toEqual(['[fd00::2]:9100']);
    expect(await instances({ machineName: 'ARTEMIS_MATLAB' })).toEqual(['10.0.0.1:9100']);
    expect(await instances({ project: 'IDAaaS', machineName: 'Standard CPU' })).toEqual([]);
  });

  it('keeps the previous snapshot when a poll fails, and says so', async () => {
    const { prometheus, clock, poller, logs, poll } = setUp([alice]);
    await poll();
    const kept = poller.snapshot();

    clock.advance(60_000);
    prometheus.state.refuse = true;
    expect(await poll()).toMatchObject({ outcome: 'failed' });

    expect(poller.snapshot()).toBe(kept);
    expect(await poller.source.list()).toBe(kept!.workspaces);
    const failedLine = expect.objectContaining({
      level: 'warn',
      msg: 'active-workspace poll failed; keeping the previous snapshot until it recovers',
      reason: expect.stringMatching(
        /^Prometheus at http:\/\/prometheus\.test:9090 refused the connection \(ECONNREFUSED\)/,
      ),
      snapshotTakenAt: '2025-09-21T12:30:00.000Z',
    });
    expect(logs).toEqual([failedLine]);

    // Every minute the same failure: nothing more in the log, and no retry lines.
    for (let minute = 0; minute < 5; minute++) {
      clock.advance(60_000);
      await poll();
    }
    expect(logs).toEqual([failedLine]);

    prometheus.state.refuse = false;
    clock.advance(60_000);
    expect(await poll()).toMatchObject({ outcome: 'ok' });
    expect(logs).toEqual([
      failedLine,
      expect.objectContaining({ level: 'info', msg: 'active-workspace poll recovered', failedPolls: 6 }),
    ]);
  });

  it('keeps serving the last snapshot after failed polls, stale once it is over 5 minutes old', async () => {
    const { prometheus, clock, poller, poll } = setUp([alice]);
    await poll();
    const kept = poller.snapshot();
    expect(poller.source.status()).toEqual({ takenAt: NOW, lastPollFailed: false, stale: false });
    prometheus.state.refuse = true;
    clock.advance(SNAPSHOT_KEPT_AFTER_FAILURE_MS);
    await poll();
    expect(await poller.source.list()).toBe(kept!.workspaces);
    expect(poller.source.status()).toEqual({ takenAt: NOW, lastPollFailed: true, stale: false });

    clock.advance(1);
    expect(await poller.source.list()).toBe(kept!.workspaces);
    expect(poller.source.status()).toEqual({ takenAt: NOW, lastPollFailed: true, stale: true });

    // A successful poll is current at once, and stays so between scheduled polls, however long.
    prometheus.state.refuse = false;
    await poll();
    clock.advance(SNAPSHOT_KEPT_AFTER_FAILURE_MS * 10);
    expect(poller.source.status()).toMatchObject({ lastPollFailed: false, stale: false });
  });

  it('runs one poll for the first list() calls before any poll, and none again after it failed', async () => {
    const { prometheus, poller } = setUp([alice]);
    const [first, second] = await Promise.all([poller.source.list(), poller.source.list()]);
    expect(first.map((w) => w.instance)).toEqual(['10.0.0.1:9100']);
    expect(second).toBe(first);
    expect(prometheus.asked).toHaveLength(3);

    // Empty, and said to be unknown rather than nothing running; the schedule, not the read, retries.
    const failing = setUp([alice]);
    failing.prometheus.state.refuse = true;
    expect(await failing.poller.source.list()).toEqual([]);
    expect(await failing.poller.source.list()).toEqual([]);
    expect(failing.poller.source.status()).toEqual({ takenAt: null, lastPollFailed: true, stale: true });
    expect(failing.prometheus.asked).toHaveLength(3);
  });

  it('with pollOnRead (serve --no-schedule), polls when read, at most once a minute', async () => {
    const { prometheus, clock, poller } = setUp([alice], {}, true);
    expect(await poller.source.list()).toHaveLength(1);
    prometheus.state.nodes = [alice, mantid];
    clock.advance(POLL_ON_READ_EVERY_MS - 1);
    expect(await poller.source.list()).toHaveLength(1);
    expect(prometheus.asked).toHaveLength(3);

    clock.advance(1);
    expect((await poller.source.list()).map((w) => w.instance)).toEqual(['10.0.0.1:9100', '[fd00::2]:9100']);
    expect(prometheus.asked).toHaveLength(6);

    // Prometheus away: each read within the minute answers from the snapshot without asking again.
    prometheus.state.refuse = true;
    clock.advance(POLL_ON_READ_EVERY_MS);
    expect(await poller.source.list()).toHaveLength(2);
    expect(await poller.source.list()).toHaveLength(2);
    expect(prometheus.asked).toHaveLength(9);
  });

  it('runs on schedule.active, every minute by default', async () => {
    const { scheduler, host, poller, prometheus } = setUp([alice]);
    expect(poller.plugin).toMatchObject({ name: 'active-workspaces', schedule: '* * * * *' });
    host.start();
    scheduler.tick('* * * * *');
    await host.stop();
    expect(prometheus.asked).toHaveLength(3);
    expect(poller.snapshot()?.workspaces).toHaveLength(1);
  });
});
