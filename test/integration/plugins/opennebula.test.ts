import { join } from 'node:path';
import { parseConfig, type Config } from '../../../src/config';
import type { Breakdown } from '../../../src/domain/figures';
import { fixedClock } from '../../../src/domain/clock';
import type { Level } from '../../../src/domain/levels';
import { DAY_MS, HOUR_MS, hourLabel } from '../../../src/domain/time';
import { INGEST_PLUGIN, scheduledIngestPlugin } from '../../../src/ingest/plugin';
import { ingestRange } from '../../../src/ingest/run';
import { ingestDeps } from '../../../src/ingest/wiring';
import { silentLogger } from '../../../src/log';
import { createServiceMetrics } from '../../../src/metrics';
import { PluginHost } from '../../../src/plugins/host';
import { pluginRunRecorder } from '../../../src/plugins/run-metrics';
import { hostHistoryFor } from '../../../src/store/capabilities';
import { openJsonStore, type JsonStore } from '../../../src/store/json';
import { ledgerBetween, tempDirs } from '../../support/fake-ingest';
import {
  expectedHours,
  fleet,
  mariaDbFleet,
  MARIADB,
  sqliteFleet,
  type ExpectedHour,
} from '../../support/opennebula-fleet';

const DAY = Date.parse('2025-03-10T00:00:00Z');
const NOW = DAY + 3 * DAY_MS + 20 * 60_000;
const VMS = fleet(DAY / 1000);
const EXPECTED = expectedHours(VMS, DAY / 1000, DAY / 1000 + 86_400, NOW / 1000);

/** Each VM's keys as the config below maps them. */
const KEYS: Record<number, Record<Level, string>> = {
  1: {
    INSTANCE: 'one-1',
    PROJECT: 'IDAaaS',
    USER: 'alice',
    MACHINE: 'Artemis (Matlab)',
    EXPERIMENT: 'unknown',
  },
  2: { INSTANCE: 'one-2', PROJECT: 'gid-101', USER: 'uid-6', MACHINE: 'gpu', EXPERIMENT: 'unknown' },
  3: {
    INSTANCE: 'one-3',
    PROJECT: 'IDAaaS',
    USER: 'alice',
    MACHINE: 'Artemis (Matlab)',
    EXPERIMENT: 'unknown',
  },
};

function config(dataDir: string, url: string): Config {
  return parseConfig({
    prometheus: { enabled: false },
    sources: {
      opennebula: {
        url,
        groups: { '100': 'IDAaaS' },
        users: { '5': 'alice' },
        machines: { matlab: 'Artemis (Matlab)' },
        // Small batches, so reading in batches is what this test goes through.
        batchRows: 40,
      },
    },
    store: { dataDir },
    carbon: { source: 'static', gPerKwh: 200 },
  });
}

/** The expected figures of a level's key in each hour, summed over its VMs. */
function expectedOf(level: Level, key: string): Map<number, { busy: number; idle: number }> {
  const sums = new Map<number, { busy: number; idle: number }>();
  for (const e of EXPECTED.filter((x: ExpectedHour) => KEYS[x.vmId][level] === key)) {
    const sum = sums.get(e.hour) ?? { busy: 0, idle: 0 };
    sum.busy += e.busyCpuSeconds;
    sum.idle += e.idleCpuSeconds;
    sums.set(e.hour, sum);
  }
  return sums;
}

async function expectEveryLevelMatches(store: JsonStore): Promise<void> {
  for (const level of ['INSTANCE', 'PROJECT', 'USER', 'MACHINE', 'EXPERIMENT'] as const) {
    const keys = [...new Set(Object.values(KEYS).map((k) => k[level]))].sort();
    expect(await store.listKeys(level)).toEqual(keys);
    for (const key of keys) {
      const [entry] = await store.readDays(level, '2025-03-10', [key]);
      const expected = expectedOf(level, key);
      expect(Object.keys(entry!.hours).sort()).toEqual([...expected.keys()].map(hourLabel).sort());
      let busyTotal = 0;
      let idleTotal = 0;
      for (const [hour, { busy, idle }] of expected) {
        const all = (entry!.hours[hourLabel(hour)] as Breakdown).all;
        expect({
          level,
          key,
          hour: hourLabel(hour),
          busy: all.busyCpuSeconds,
          idle: all.idleCpuSeconds,
        }).toEqual({
          level,
          key,
          hour: hourLabel(hour),
          busy: expect.closeTo(busy, 6),
          idle: expect.closeTo(idle, 6),
        });
        expect(all.busyKwh).toBeCloseTo((busy * 12) / 3.6e6, 12);
        expect(all.idleGco2eq).toBeCloseTo(((idle * 1) / 3.6e6) * 200, 9);
        busyTotal += busy;
        idleTotal += idle;
      }
      expect(entry!.totals.all.busyCpuSeconds).toBeCloseTo(busyTotal, 5);
      expect(entry!.totals.all.idleCpuSeconds).toBeCloseTo(idleTotal, 5);
    }
  }
}

const dirs = tempDirs('cl-one-');
let drops: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const drop of drops) await drop();
  drops = [];
  dirs.cleanup();
});

async function ingestDay(cfg: Config, store: JsonStore) {
  const deps = await ingestDeps(cfg, store, silentLogger, { now: () => NOW });
  return ingestRange(deps, DAY, DAY + DAY_MS);
}

describe('the OpenNebula source against MariaDB', () => {
  it('gives every level the figures the fleet must give, and keeps each instance’s host history', async () => {
    const db = await mariaDbFleet(VMS);
    drops.push(db.drop);
    const dataDir = dirs.make();
    const store = await openJsonStore({ dataDir });
    try {
      const report = await ingestDay(config(dataDir, db.url), store);
      expect(report).toMatchObject({ hours: 24, okHours: 24, failed: [] });
      await expectEveryLevelMatches(store);
      // The VM that ran only the day before has no figures; the migrated one ran on both hosts.
      expect(EXPECTED.some((e) => e.vmId === 4)).toBe(false);

      const histories = await hostHistoryFor(config(dataDir, db.url).store).read(['one-1', 'one-2', 'one-3']);
      const s = (offset: number) => DAY + offset * 1000;
      expect(histories.get('one-2')).toEqual({
        periods: [
          { host: 'node-a', from: s(3600 + 1234), to: s(5 * 3600 + 2233), reason: 'USER' },
          { host: 'node-b', from: s(5 * 3600 + 2301), to: s(20 * 3600 + 611), reason: 'NONE' },
        ],
        endedAt: s(20 * 3600 + 611),
      });
      expect(histories.get('one-3')).toEqual({
        periods: [
          { host: 'node-b', from: s(2 * 3600), to: s(8 * 3600 + 1800), reason: 'STOP_RESUME' },
          { host: 'node-a', from: s(11 * 3600 + 901), to: null, reason: null },
        ],
        endedAt: null,
      });
      expect(histories.get('one-1')).toEqual({
        periods: [{ host: 'node-a', from: s(-5 * 3600 + 17), to: null, reason: null }],
        endedAt: null,
      });
    } finally {
      await store.close();
    }
  });

  it('reads a copied SQLite file the same way', async () => {
    const dataDir = dirs.make();
    const file = join(dataDir, 'acct.db');
    sqliteFleet(file, VMS);
    const store = await openJsonStore({ dataDir: join(dataDir, 'store') });
    try {
      expect(await ingestDay(config(join(dataDir, 'store'), `sqlite:${file}`), store)).toMatchObject({
        okHours: 24,
      });
      await expectEveryLevelMatches(store);
    } finally {
      await store.close();
    }
  });

  it('makes the hours failed when the database cannot be read, as Prometheus being down does', async () => {
    const dataDir = dirs.make();
    const store = await openJsonStore({ dataDir });
    try {
      const missing = `${MARIADB}/cl_one_missing_${process.pid}`;
      const report = await ingestDay(config(dataDir, missing), store);
      expect(report.okHours).toBe(0);
      expect(report.failed).toHaveLength(24);
      expect(report.failed[0].error).toMatch(/^OpenNebula accounting database: .*Unknown database/);
      const ledger = await ledgerBetween(store, DAY, DAY + DAY_MS);
      expect([...ledger.values()].every((h) => h.status === 'failed')).toBe(true);
      const sqlite = await ingestDay(config(dataDir, `sqlite:${join(dataDir, 'absent.db')}`), store);
      expect(sqlite.failed).toHaveLength(24);
    } finally {
      await store.close();
    }
  });

  it('is scheduled with the ingestion and shows in /metrics: runs, failures, last success', async () => {
    const db = await mariaDbFleet(VMS);
    drops.push(db.drop);
    const dataDir = dirs.make();
    const store = await openJsonStore({ dataDir });
    const metrics = createServiceMetrics();
    const clock = fixedClock(NOW);
    const host = new PluginHost({
      store,
      clock,
      log: silentLogger,
      onRun: pluginRunRecorder(metrics, () => NOW),
    });
    try {
      host.register(
        scheduledIngestPlugin({ schedule: '5 * * * *', firstRunHours: 3 }),
        config(dataDir, db.url),
      );
      expect(await host.runNow(INGEST_PLUGIN)).toMatchObject({ outcome: 'ok' });
      clock.advance(HOUR_MS);
      await db.drop();
      expect(await host.runNow(INGEST_PLUGIN)).toMatchObject({ outcome: 'failed' });
    } finally {
      await host.stop();
      await store.close();
    }
    const text = await metrics.registry.metrics();
    expect(text).toContain('carbonledger_plugin_runs_total{plugin="opennebula",outcome="ok"} 1');
    expect(text).toContain('carbonledger_plugin_runs_total{plugin="opennebula",outcome="failed"} 1');
    expect(text).toContain('carbonledger_plugin_failures_total{plugin="opennebula"} 1');
    expect(text).toContain(
      `carbonledger_plugin_last_success_timestamp_seconds{plugin="opennebula"} ${NOW / 1000}`,
    );
  });

  it('names the path of a bad config', () => {
    expect(() => parseConfig({ sources: { opennebula: { url: 'postgres://x' } } })).toThrow(
      /sources\.opennebula\.url: expected "mysql:\/\/user:password@host:port\/database" or "sqlite:FILE"/,
    );
    expect(() => parseConfig({ sources: { opennebula: { url: 'sqlite:a', groups: { 1: 7 } } } })).toThrow(
      /sources\.opennebula\.groups\.1: expected a project name/,
    );
    expect(() => parseConfig({ prometheus: { enabled: false } })).toThrow(
      /prometheus\.enabled: no source is enabled/,
    );
  });
});
