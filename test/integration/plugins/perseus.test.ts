import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { parseConfig, type PerseusConfig } from '../../../src/config';
import { DAY_MS, HOUR_MS } from '../../../src/domain/time';
import { ingestRange } from '../../../src/ingest/run';
import { jsonLogger, type Logger } from '../../../src/log';
import {
  deliverDays,
  PERSEUS_SINK,
  perseusSinkPlugin,
  type PerseusDeps,
} from '../../../src/plugins/perseus/sink';
import { fixedClock } from '../../../src/domain/clock';
import { jsonDeliveryLog } from '../../../src/store/json/deliveries';
import { jsonProjectUsers } from '../../../src/store/json/project-users';
import { openJsonStore, type JsonStore } from '../../../src/store/json';
import type { CpuSecondsSource, SourceHour } from '../../../src/ingest/ports';
import { directIngestDeps, tempDirs } from '../../support/fake-ingest';
import { bodyProblem, startFakePerseus, type FakePerseus } from '../../support/perseus-server';

const TOKEN = 'secret-token-9f2c';
const DAY = Date.parse('2025-03-10T00:00:00Z');
const NOW = DAY + 2 * DAY_MS + 3 * HOUR_MS;

/** Two projects, one instance each; busy seconds per project and hour as `busy` says; idle fills the hour. */
function projectSource(
  busy: (project: string, hour: number) => number,
  failing: Set<number>,
): CpuSecondsSource {
  return {
    async fetchHours(from, to) {
      const out = new Map<number, SourceHour>();
      for (let hour = from; hour < to; hour += HOUR_MS) {
        if (failing.has(hour)) {
          out.set(hour, { status: 'failed', error: 'down' });
          continue;
        }
        out.set(hour, {
          status: 'ok',
          rows: ['P', 'Q'].map((project) => ({
            hour,
            instance: `${project}-vm:9100`,
            labels: {
              cloud_project_name: project,
              machine_name: project === 'P' ? 'big-a' : 'small',
              instance: `${project}-vm:9100`,
            },
            busyCpuSeconds: busy(project, hour),
            idleCpuSeconds: 2 * 3600 - busy(project, hour),
          })),
        });
      }
      return out;
    },
  };
}

/** A URL of a port that was free a moment ago and has nothing listening: connections are refused. */
async function closedUrl(): Promise<string> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return `http://127.0.0.1:${port}`;
}

const dirs = tempDirs('cl-perseus-');
let perseus: FakePerseus;
let store: JsonStore;
let dataDir: string;
let logged: string;
let log: Logger;

beforeEach(async () => {
  perseus = await startFakePerseus(TOKEN);
  dataDir = dirs.make();
  store = await openJsonStore({ dataDir });
  logged = '';
  log = jsonLogger((line) => (logged += line + '\n'));
});
afterEach(async () => {
  await store.close();
  await perseus.close();
  dirs.cleanup();
});

function sinkConfig(overrides: Record<string, unknown> = {}): PerseusConfig {
  return parseConfig({
    sinks: {
      perseus: {
        url: perseus.url,
        token: TOKEN,
        projects: { P: 'oid-p', Q: 'oid-q' },
        resource: 'cloud',
        ...overrides,
      },
    },
  }).sinks.perseus!;
}

const deps = (): PerseusDeps => ({
  deliveries: jsonDeliveryLog(dataDir),
  projectUsers: jsonProjectUsers(dataDir),
});
const deliver = (config: PerseusConfig, days = ['2025-03-10']) =>
  deliverDays({ store, log, now: NOW }, config, deps(), days);

describe('the PERSEUS sink over a real store and a server that overwrites on its match key', () => {
  it('sends a day once complete, and after a repair and a re-run holds one entry per key with the repaired figures', async () => {
    const busy = new Map<string, number>();
    const busyOf = (project: string, hour: number) =>
      busy.get(`${project}@${hour}`) ?? (project === 'P' ? 3600 : 1800);
    const failing = new Set([DAY + 10 * HOUR_MS]);
    const source = projectSource(busyOf, failing);
    const ingest = (from: number, to: number) =>
      ingestRange(directIngestDeps(store, source, { projectUsers: jsonProjectUsers(dataDir) }), from, to);
    await ingest(DAY, DAY + DAY_MS);

    const incomplete = await deliver(sinkConfig());
    expect(incomplete).toMatchObject({ completeDays: [], incompleteDays: ['2025-03-10'], sent: 0 });
    expect(perseus.requests).toHaveLength(0);

    failing.clear();
    await ingest(DAY + 10 * HOUR_MS, DAY + 11 * HOUR_MS);
    const first = await deliver(sinkConfig());
    expect(first).toMatchObject({ completeDays: ['2025-03-10'], sent: 2, accepted: 2, notAccepted: [] });
    expect(perseus.entries).toHaveLength(2);
    const p = perseus.entries.find((e) => e.projectOid === 'oid-p')!.body;
    expect(p).toMatchObject({
      project_oid: 'oid-p',
      compute_project_id: 'P',
      resource_id: 'cloud',
      start: '2025-03-10T00:00:00.000Z',
      end: '2025-03-11T00:00:00.000Z',
      contingent_factor: 1,
    });
    // Two CPUs all day: 48 core-hours; P busy 3600 s and idle 3600 s an hour.
    expect(p.value).toBeCloseTo(48, 9);
    expect(p.usage).toBe(p.value);
    const busyKwh = (24 * 3600 * 12) / 3.6e6;
    const idleKwh = (24 * 3600 * 1) / 3.6e6;
    expect(p.additional_metrics).toEqual([
      { metric_id: 'busy_kwh', value: expect.closeTo(busyKwh, 9), contingent_factor: 0 },
      { metric_id: 'idle_kwh', value: expect.closeTo(idleKwh, 9), contingent_factor: 0 },
      { metric_id: 'gco2eq', value: expect.closeTo((busyKwh + idleKwh) * 100, 6), contingent_factor: 0 },
    ]);
    expect(p.additional_data).toMatchObject({
      generator: 'carbonledger',
      unit: 'cpu-core-hours',
      complete_hours: 24,
    });

    // Nothing changed: nothing is sent again.
    expect(await deliver(sinkConfig())).toMatchObject({ sent: 0, unchanged: 2 });

    // A repair of one hour: P was idle in hour 5 after all.
    busy.set(`P@${DAY + 5 * HOUR_MS}`, 0);
    await ingest(DAY + 5 * HOUR_MS, DAY + 6 * HOUR_MS);
    expect(await deliver(sinkConfig())).toMatchObject({ sent: 1, accepted: 1, unchanged: 1 });
    expect(perseus.entries).toHaveLength(2);
    const repaired = perseus.entries.find((e) => e.projectOid === 'oid-p')!.body;
    expect(repaired.additional_metrics).toEqual([
      { metric_id: 'busy_kwh', value: expect.closeTo((23 * 3600 * 12) / 3.6e6, 9), contingent_factor: 0 },
      {
        metric_id: 'idle_kwh',
        value: expect.closeTo(((24 * 3600 + 3600) * 1) / 3.6e6, 9),
        contingent_factor: 0,
      },
      expect.objectContaining({ metric_id: 'gco2eq' }),
    ]);
    expect(logged).not.toContain(TOKEN);
    expect(perseus.requests.every((r) => r.token === TOKEN)).toBe(true);
    // Every body sent has the seed's attributes, as the stand-in checks: a body without them is refused.
    for (const { projectOid, body } of perseus.entries) expect(bodyProblem(body, projectOid)).toBeNull();
    const { value: _value, ...withoutValue } = repaired;
    expect(bodyProblem(withoutValue, 'oid-p')).toBe('value: a number is required');
    const renamed = { ...repaired, additional_metrics: [{ name: 'busy_kwh', value: 1 }] };
    expect(bodyProblem(renamed, 'oid-p')).toMatch(/^additional_metrics/);
  });

  it('splits by machine type and in kWh, and sends zero for a split a repair took away', async () => {
    let gone = false;
    const source: CpuSecondsSource = {
      async fetchHours(from, to) {
        const base = await projectSource(() => 1800, new Set()).fetchHours(from, to);
        for (const answer of base.values()) {
          if (answer.status === 'ok' && gone)
            answer.rows = answer.rows.filter((r) => r.labels.cloud_project_name !== 'Q');
        }
        return base;
      },
    };
    await ingestRange(
      directIngestDeps(store, source, { projectUsers: jsonProjectUsers(dataDir) }),
      DAY,
      DAY + DAY_MS,
    );
    const config = sinkConfig({
      partition: 'machine',
      unit: 'kwh',
      priority: 'normal',
      contingentFactor: 0.5,
    });
    await deliver(config);
    expect(perseus.entries.map((e) => [e.projectOid, e.body.partition, e.body.priority])).toEqual([
      ['oid-p', 'big-a', 'normal'],
      ['oid-q', 'small', 'normal'],
    ]);
    const kwh = (24 * 1800 * 12 + 24 * (7200 - 1800) * 1) / 3.6e6;
    expect(perseus.entries[1].body).toMatchObject({ value: expect.closeTo(kwh, 9), contingent_factor: 0.5 });

    // An explicit repair (`ingest --replace`): Q had no usage that day after all.
    gone = true;
    await ingestRange(
      directIngestDeps(store, source, { projectUsers: jsonProjectUsers(dataDir), replace: true }),
      DAY,
      DAY + DAY_MS,
    );
    await deliver(config);
    expect(perseus.entries).toHaveLength(2);
    expect(perseus.entries[1].body).toMatchObject({ partition: 'small', value: 0, usage: 0 });
  });

  it('retries a day PERSEUS failed for on the next run, until it is accepted', async () => {
    await ingestRange(
      directIngestDeps(
        store,
        projectSource(() => 3600, new Set()),
      ),
      DAY,
      DAY + DAY_MS,
    );
    perseus.failNext.push(500, 500, 500);
    const failed = await deliver(sinkConfig());
    expect(failed.notAccepted.map((n) => [n.project, n.status, n.httpStatus])).toEqual([
      ['P', 'unreachable', 500],
      ['Q', 'unreachable', 500],
    ]);
    const log1 = await jsonDeliveryLog(dataDir).read(PERSEUS_SINK);
    expect(log1.map((d) => [d.status, d.attempts])).toEqual([
      ['unreachable', 1],
      ['unreachable', 1],
    ]);
    // The next run meets one more 500 (P's), then PERSEUS has recovered.
    const second = await deliver(sinkConfig());
    expect(second).toMatchObject({ sent: 2, accepted: 1 });
    const third = await deliver(sinkConfig());
    expect(third).toMatchObject({ sent: 1, accepted: 1, unchanged: 1, notAccepted: [] });
    expect(perseus.entries).toHaveLength(2);
    const log3 = await jsonDeliveryLog(dataDir).read(PERSEUS_SINK);
    expect(log3.map((d) => [d.project, d.status, d.httpStatus, d.attempts])).toEqual([
      ['P', 'accepted', 201, 3],
      ['Q', 'accepted', 201, 2],
    ]);
  });

  it('retries a day refused or unreachable on every later scheduled run, after it left the lookback, until accepted', async () => {
    await ingestRange(
      directIngestDeps(
        store,
        projectSource(() => 3600, new Set()),
      ),
      DAY,
      DAY + DAY_MS,
    );
    const plugin = perseusSinkPlugin({ capabilities: deps });
    const runAt = async (now: number, config: PerseusConfig) =>
      plugin.run({ store, clock: fixedClock(now), log, signal: new AbortController().signal }, config);
    const config = sinkConfig({ lookbackDays: 1 });
    const dayAfter = DAY + DAY_MS + 3 * HOUR_MS;

    // PERSEUS refuses the body (a 422 it will answer differently once fixed on its side).
    perseus.failNext.push(422, 422);
    expect(await runAt(dayAfter, config)).toMatchObject({ ok: false, detail: { sent: 2, accepted: 0 } });
    // Days later: the day is out of the lookback, but not accepted, so it is sent again; this time
    // PERSEUS cannot be reached at all (nothing listens on its port).
    const closed = sinkConfig({ lookbackDays: 1, url: await closedUrl() });
    expect(await runAt(dayAfter + 3 * DAY_MS, closed)).toMatchObject({ ok: false, detail: { sent: 2 } });
    const log1 = await jsonDeliveryLog(dataDir).read(PERSEUS_SINK);
    expect(log1.map((d) => [d.status, d.httpStatus, d.attempts])).toEqual([
      ['unreachable', null, 2],
      ['unreachable', null, 2],
    ]);
    expect(log1[0].answer).toMatch(/ECONNREFUSED/);
    // Reachable again, a week later: accepted, and after that nothing is sent.
    expect(await runAt(dayAfter + 7 * DAY_MS, config)).toMatchObject({
      ok: true,
      detail: { sent: 2, accepted: 2 },
    });
    expect(await runAt(dayAfter + 8 * DAY_MS, config)).toMatchObject({ ok: true, detail: { sent: 0 } });
    expect(perseus.entries).toHaveLength(2);
  });

  it.each([
    ['timed out after PERSEUS took it', () => (perseus.takeButStall = 1), true],
    ['refused with a redirect', () => perseus.failNext.push(302), false],
    ['refused the token', () => perseus.tokens.clear(), false],
  ])(
    'sends again an entry whose latest post %s, even when its figures are back to those last accepted',
    async (_what, failNextPost, taken) => {
      const busy = new Map<string, number>();
      const source = projectSource((project, hour) => busy.get(`${project}@${hour}`) ?? 3600, new Set());
      const ingest = () =>
        ingestRange(
          directIngestDeps(store, source, { projectUsers: jsonProjectUsers(dataDir) }),
          DAY + 5 * HOUR_MS,
          DAY + 6 * HOUR_MS,
        );
      await ingestRange(directIngestDeps(store, source), DAY, DAY + DAY_MS);
      const config = sinkConfig({ projects: { P: 'oid-p' }, unit: 'kwh', timeoutMs: 200 });
      expect(await deliver(config)).toMatchObject({ sent: 1, accepted: 1 });
      const figuresA = perseus.entries[0].body.value;

      // A repair to figures B whose post is not accepted (PERSEUS may have applied it).
      busy.set(`P@${DAY + 5 * HOUR_MS}`, 0);
      await ingest();
      failNextPost();
      expect(await deliver(config)).toMatchObject({ sent: 1, accepted: 0 });
      expect(perseus.entries[0].body.value === figuresA).toBe(!taken);
      perseus.tokens.add(TOKEN);

      // Repaired back to figures A: what was last accepted, but not what PERSEUS may hold.
      busy.clear();
      await ingest();
      const again = await deliver(config);
      expect(again).toMatchObject({ sent: 1, accepted: 1, unchanged: 0, notAccepted: [] });
      expect(perseus.entries.map((e) => e.body.value)).toEqual([figuresA]);
      const [latest] = await jsonDeliveryLog(dataDir).read(PERSEUS_SINK);
      expect(latest).toMatchObject({ status: 'accepted', attempts: 3 });
      expect(await deliver(config)).toMatchObject({ sent: 0, unchanged: 1 });
    },
  );

  it('reports a bad token and stops at the first refusal instead of sending on', async () => {
    await ingestRange(
      directIngestDeps(
        store,
        projectSource(() => 3600, new Set()),
      ),
      DAY,
      DAY + 3 * DAY_MS,
    );
    const bad = sinkConfig({ token: 'wrong-token-1234' });
    const report = await deliver(bad, ['2025-03-10', '2025-03-11']);
    expect(report).toMatchObject({ unauthorized: true, sent: 1, accepted: 0 });
    expect(report.notAccepted).toEqual([
      expect.objectContaining({ status: 'unauthorized', httpStatus: 401, project: 'P' }),
    ]);
    expect(perseus.requests).toHaveLength(1);
    expect(logged).toContain('refused the token');
    expect(logged).not.toContain('wrong-token-1234');
    // A PERSEUS that echoes the token it refused, as given and upper-cased: the answer is kept and
    // logged without either.
    const echoing: typeof fetch = async (_url, init) => {
      const header = String((init?.headers as Record<string, string>).authorization);
      return new Response(`invalid token in "${header}" / ${header.toUpperCase()}`, { status: 401 });
    };
    const echoed = await deliverDays({ store, log, now: NOW }, bad, { ...deps(), fetch: echoing }, [
      '2025-03-10',
    ]);
    expect(echoed.notAccepted[0].answer).toBe('invalid token in "Bearer ***" / BEARER ***');
    expect(JSON.stringify(await jsonDeliveryLog(dataDir).read(PERSEUS_SINK)).toLowerCase()).not.toContain(
      'wrong-token-1234',
    );
    expect(logged.toLowerCase()).not.toContain('wrong-token-1234');
    // Fixed: the next run sends everything.
    perseus.tokens.add('wrong-token-1234');
    expect(await deliver(bad, ['2025-03-10', '2025-03-11'])).toMatchObject({ accepted: 4, notAccepted: [] });
  });

  it('sends one entry per user of each project with perUser, each user’s share, and the same keys on a re-send', async () => {
    const users: CpuSecondsSource = {
      async fetchHours(from, to) {
        const out = new Map<number, SourceHour>();
        for (let hour = from; hour < to; hour += HOUR_MS) {
          const row = (instance: string, project: string, user: string, busy: number) => ({
            hour,
            instance,
            labels: { cloud_project_name: project, machine_name: 'm', owner: user, instance },
            busyCpuSeconds: busy,
            idleCpuSeconds: 0,
          });
          out.set(hour, {
            status: 'ok',
            rows: [row('a', 'P', 'alice', 3600), row('b', 'P', 'bob', 1800), row('c', 'Q', 'alice', 900)],
          });
        }
        return out;
      },
    };
    const labels = { ...parseConfig({}).prometheus.labels, user: 'owner' };
    const ingest = () =>
      ingestRange(
        directIngestDeps(store, users, { labels, projectUsers: jsonProjectUsers(dataDir) }),
        DAY,
        DAY + DAY_MS,
      );
    await ingest();
    const config = sinkConfig({ perUser: true });
    expect(await deliver(config)).toMatchObject({ sent: 3, accepted: 3 });
    expect(perseus.entries.map((e) => [e.projectOid, e.body.user, e.body.value])).toEqual([
      ['oid-p', 'alice', 24],
      ['oid-p', 'bob', 12],
      ['oid-q', 'alice', 6],
    ]);
    await ingest();
    expect(await deliver(config)).toMatchObject({ sent: 0, unchanged: 3 });
    expect(perseus.entries).toHaveLength(3);
  });
});
