import { graphql } from 'graphql';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createConnection } from 'mysql2/promise';
import type { Config } from '../../../src/config';
import { fixedClock } from '../../../src/domain/clock';
import { DAY_MS, HOUR_MS } from '../../../src/domain/time';
import { ingestRange } from '../../../src/ingest/run';
import { ingestDeps } from '../../../src/ingest/wiring';
import { silentLogger } from '../../../src/log';
import { deliverDays, PERSEUS_SINK } from '../../../src/plugins/perseus/sink';
import { buildAppSchema, createRequestContext } from '../../../src/app-schema';
import { capabilitiesOf } from '../../../src/store/capabilities';
import type { Store } from '../../../src/store/store';
import { runCli } from '../../support/cli';
import { tempDirs } from '../../support/fake-ingest';
import {
  config,
  DAY,
  EXPECTED,
  expectedHistories,
  expectEveryLevelMatches,
  NOW,
  VMS,
} from '../../support/opennebula-checks';
import { mariaDbFleet } from '../../support/opennebula-fleet';
import { startFakePerseus, type FakePerseus } from '../../support/perseus-server';
import { bothStores } from '../../support/both-stores';

const TOKEN = 'one-perseus-token-4e1b';

/** A store of each kind, opened from the config section that names it. */
const STORES = bothStores(() => dirs.make());

const dirs = tempDirs('cl-one-stores-');
let cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
  cleanups = [];
  dirs.cleanup();
});

/** Busy and idle CPU core-hours of a project's VMs over the day, from the generator. */
function coreHours(vmIds: number[]): number {
  return (
    EXPECTED.filter((e) => vmIds.includes(e.vmId)).reduce(
      (sum, e) => sum + e.busyCpuSeconds + e.idleCpuSeconds,
      0,
    ) / 3600
  );
}

const ingest = async (cfg: Config, store: Store, from = DAY, to = DAY + DAY_MS) =>
  ingestRange(await ingestDeps(cfg, store, silentLogger, { now: () => NOW }), from, to);

describe.each(STORES)('OpenNebula in, PERSEUS out, on the %s store', (_kind, open) => {
  let perseus: FakePerseus;
  let cfg: Config;
  let store: Store;
  let dbUrl: string;
  let section: Record<string, unknown>;

  beforeEach(async () => {
    const db = await mariaDbFleet(VMS);
    cleanups.push(db.drop);
    dbUrl = db.url;
    perseus = await startFakePerseus(TOKEN);
    cleanups.push(() => perseus.close());
    const opened = await open();
    cleanups.push(opened.drop);
    store = opened.store;
    section = opened.section;
    cleanups.push(() => store.close());
    cfg = config(opened.section, db.url, {
      sinks: {
        perseus: {
          url: perseus.url,
          token: TOKEN,
          projects: { IDAaaS: 'oid-ida', 'gid-101': 'oid-gpu' },
          resource: 'cloud-cpu',
        },
      },
    });
  });

  it('stores every level’s figures and the registers as host history, which instances show with their reasons', async () => {
    expect(await ingest(cfg, store)).toMatchObject({ okHours: 24, failed: [] });
    await expectEveryLevelMatches(store);
    const { hostHistory } = capabilitiesOf(cfg.store, store);
    expect(await hostHistory.read(['one-1', 'one-2', 'one-3'])).toEqual(expectedHistories());
    expect(await hostHistory.list()).toEqual(['one-1', 'one-2', 'one-3']);

    const answer = await graphql({
      schema: await buildAppSchema(),
      source:
        '{ instances(from: "2025-03-10T00:00:00Z", to: "2025-03-11T00:00:00Z") { instance ended hosts { host from to reason } } }',
      contextValue: createRequestContext({ store, clock: fixedClock(NOW), log: silentLogger, hostHistory }),
    });
    expect(answer.errors).toBeUndefined();
    // One period a register, with its exact times and reason (contract section 10).
    const periods = (instance: string) =>
      expectedHistories()
        .get(instance)!
        .periods.map((p) => ({
          host: p.host,
          from: new Date(p.from).toISOString(),
          to: p.to === null ? null : new Date(p.to).toISOString(),
          reason: p.reason,
        }));
    expect(answer.data?.instances).toEqual([
      { instance: 'one-1', ended: false, hosts: periods('one-1') },
      // DONE in OpenNebula (vms.etime): ended, though it had samples within the last 24 hours.
      { instance: 'one-2', ended: true, hosts: periods('one-2') },
      { instance: 'one-3', ended: false, hosts: periods('one-3') },
    ]);
    expect(periods('one-2').map((p) => p.reason)).toEqual(['USER', 'NONE']);
    expect(periods('one-3').map((p) => p.reason)).toEqual(['STOP_RESUME', null]);
  });

  it('delivers the day to PERSEUS, retries what failed, and overwrites the entry after a repair', async () => {
    await ingest(cfg, store);
    const capabilities = capabilitiesOf(cfg.store, store);
    const deliver = () =>
      deliverDays({ store, log: silentLogger, now: NOW }, cfg.sinks.perseus!, capabilities, ['2025-03-10']);

    perseus.failNext.push(503);
    const first = await deliver();
    expect(first).toMatchObject({ completeDays: ['2025-03-10'], sent: 2, accepted: 1 });
    expect(first.notAccepted).toEqual([
      expect.objectContaining({ project: 'IDAaaS', status: 'unreachable', httpStatus: 503 }),
    ]);
    expect(await deliver()).toMatchObject({ sent: 1, accepted: 1, unchanged: 1, notAccepted: [] });
    const value = (oid: string) => perseus.entries.find((e) => e.projectOid === oid)?.body.value as number;
    expect(perseus.entries).toHaveLength(2);
    expect(value('oid-ida')).toBeCloseTo(coreHours([1, 3]), 3);
    expect(value('oid-gpu')).toBeCloseTo(coreHours([2]), 3);

    // A repair: one-1's samples of 03:00 said more CPU than the monitor first wrote (at most its
    // 2 vCPUs' 200 %: more would fail the hour).
    const conn = await createConnection({ uri: dbUrl });
    await conn.query(
      'UPDATE vm_samples SET cpu = LEAST(cpu + 50, 200) WHERE vm_id = 1 AND timestamp >= ? AND timestamp < ?',
      [DAY / 1000 + 3 * 3600, DAY / 1000 + 4 * 3600],
    );
    await conn.end();
    // Busy and idle core-hours stay (idle = vcpu × time running − busy); busy kWh goes up.
    const busyKwh = () =>
      (
        perseus.entries.find((e) => e.projectOid === 'oid-ida')!.body.additional_metrics as Array<{
          metric_id: string;
          value: number;
        }>
      ).find((m) => m.metric_id === 'busy_kwh')!.value;
    const [before, busyBefore] = [value('oid-ida'), busyKwh()];
    expect(await ingest(cfg, store, DAY + 3 * HOUR_MS, DAY + 4 * HOUR_MS)).toMatchObject({ okHours: 1 });
    expect(await deliver()).toMatchObject({ sent: 1, accepted: 1, unchanged: 1 });
    expect(perseus.entries).toHaveLength(2);
    expect(value('oid-ida')).toBeCloseTo(before, 9);
    expect(busyKwh()).toBeGreaterThan(busyBefore);

    const deliveries = await capabilities.deliveries.read(PERSEUS_SINK);
    expect(deliveries.map((d) => [d.project, d.status, d.attempts])).toEqual(
      expect.arrayContaining([
        ['IDAaaS', 'accepted', 3],
        ['gid-101', 'accepted', 1],
      ]),
    );
    expect(deliveries).toHaveLength(2);

    // The command line reads the same store: status lists both entries, a run now sends nothing new.
    const file = join(dirs.make(), 'config.json');
    writeFileSync(
      file,
      JSON.stringify({
        prometheus: { enabled: false },
        sources: { opennebula: { url: dbUrl } },
        store: section,
        sinks: { perseus: cfg.sinks.perseus },
      }),
    );
    const status = await runCli(['sinks', 'status', '--config', file]);
    expect(status.code).toBe(0);
    expect(status.stdout).toMatch(/^perseus: 2 entries\n/);
    expect(status.stdout).toMatch(/\n2025-03-10\tIDAaaS\t-\taccepted\t200\t\S+Z\t3\t/);
    expect(status.stdout).toMatch(/\n2025-03-10\tgid-101\t-\taccepted\t201\t\S+Z\t1\t/);
    const rerun = await runCli([
      'sinks',
      'run',
      '--from',
      '2025-03-10',
      '--to',
      '2025-03-10',
      '--config',
      file,
    ]);
    expect(rerun).toMatchObject({ code: 0 });
    expect(rerun.stdout).toContain('0 sent, 0 accepted, 2 unchanged, 0 not accepted');
    expect(status.stdout + rerun.stdout + rerun.stderr).not.toContain(TOKEN);
  });
});
