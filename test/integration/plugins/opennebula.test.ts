import { graphql } from 'graphql';
import { join } from 'node:path';
import { createConnection } from 'mysql2/promise';
import { parseConfig, type Config } from '../../../src/config';
import { fixedClock } from '../../../src/domain/clock';
import { DAY_MS, HOUR_MS } from '../../../src/domain/time';
import { INGEST_PLUGIN, scheduledIngestPlugin } from '../../../src/ingest/plugin';
import { ingestRange } from '../../../src/ingest/run';
import { ingestDeps } from '../../../src/ingest/wiring';
import { silentLogger } from '../../../src/log';
import { createServiceMetrics } from '../../../src/metrics';
import { PluginHost } from '../../../src/plugins/host';
import { pluginRunRecorder } from '../../../src/plugins/run-metrics';
import { buildAppSchema, createRequestContext } from '../../../src/app-schema';
import { capabilitiesOf } from '../../../src/store/capabilities';
import { openJsonStore } from '../../../src/store/json';
import type { Store } from '../../../src/store/store';
import { ledgerBetween, tempDirs } from '../../support/fake-ingest';
import { mariaDbFleet, MARIADB, sqliteFleet } from '../../support/opennebula-fleet';
import {
  config,
  DAY,
  EXPECTED,
  expectedHistories,
  expectEveryLevelMatches,
  NOW,
  VMS,
} from '../../support/opennebula-checks';

const dirs = tempDirs('cl-one-');
let drops: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const drop of drops) await drop();
  drops = [];
  dirs.cleanup();
});

async function ingestDay(cfg: Config, store: Store) {
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
      // The fleet has memory and traffic in every VM's hours, and none in the hours one-3 was stopped.
      expect(EXPECTED.every((e) => e.upHours > 0 && e.networkReceiveBytes > 0)).toBe(true);

      const histories = await capabilitiesOf(config(dataDir, db.url).store, store).hostHistory.read([
        'one-1',
        'one-2',
        'one-3',
      ]);
      expect(histories).toEqual(expectedHistories());
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

      // The instances' host periods carry the registers' reasons where the source gave one.
      const answer = await graphql({
        schema: await buildAppSchema(),
        source: `{ instances(from: "${new Date(DAY).toISOString()}", to: "${new Date(DAY + DAY_MS).toISOString()}") {
          instance experiment hosts { host reason } } }`,
        contextValue: createRequestContext({
          store,
          clock: fixedClock(NOW),
          log: silentLogger,
          hostHistory: capabilitiesOf(config(join(dataDir, 'store'), `sqlite:${file}`).store, store)
            .hostHistory,
        }),
      });
      expect(answer.errors).toBeUndefined();
      expect(answer.data?.instances).toEqual([
        // experiment = unknown (contract section 10), which InstanceRecord, whose experiment is
        // nullable (section 11), gives as null, as it does for every instance of unknown experiment.
        { instance: 'one-1', experiment: null, hosts: [{ host: 'node-a', reason: null }] },
        {
          instance: 'one-2',
          experiment: null,
          hosts: [
            { host: 'node-a', reason: 'USER' },
            { host: 'node-b', reason: 'NONE' },
          ],
        },
        {
          instance: 'one-3',
          experiment: null,
          hosts: [
            { host: 'node-b', reason: 'STOP_RESUME' },
            { host: 'node-a', reason: null },
          ],
        },
      ]);
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

  it('fails the hours when MariaDB is not there (nothing on the port) or a table is gone, and keeps figures stored before', async () => {
    const db = await mariaDbFleet(VMS);
    drops.push(db.drop);
    const dataDir = dirs.make();
    const store = await openJsonStore({ dataDir });
    try {
      expect(await ingestDay(config(dataDir, db.url), store)).toMatchObject({ okHours: 24 });
      const before = await store.readDays('PROJECT', '2025-03-10', ['IDAaaS']);

      // A port nothing listens on: MariaDB stopped, as far as the source can tell.
      const stopped = await ingestDay(config(dataDir, 'mysql://root@127.0.0.1:1/opennebula'), store);
      expect(stopped).toMatchObject({ okHours: 0 });
      expect(stopped.failed).toHaveLength(24);
      expect(stopped.failed[0].error).toMatch(/^OpenNebula accounting database: .*ECONNREFUSED/);

      const conn = await createConnection({ uri: db.url });
      await conn.query('DROP TABLE vm_deltas');
      await conn.end();
      const dropped = await ingestDay(config(dataDir, db.url), store);
      expect(dropped.failed).toHaveLength(24);
      expect(dropped.failed[0].error).toMatch(/vm_deltas' doesn't exist/);
      // Hours already ok keep their figures: a failed attempt is counted, never stored as zero.
      expect(await store.readDays('PROJECT', '2025-03-10', ['IDAaaS'])).toEqual(before);
      const ledger = await ledgerBetween(store, DAY, DAY + DAY_MS);
      expect([...ledger.values()].every((h) => h.status === 'ok' && h.failedAttempts === 2)).toBe(true);
    } finally {
      await store.close();
    }
  });

  it('fails the hours a garbled figure falls in, naming it, and stores the others', async () => {
    const dataDir = dirs.make();
    const file = join(dataDir, 'acct.db');
    const garbled = VMS.map((vm) =>
      vm.id === 2 ? { ...vm, deltas: vm.deltas.map((d, i) => (i === 3 ? { ...d, netRx: -500 } : d)) } : vm,
    );
    sqliteFleet(file, garbled);
    const store = await openJsonStore({ dataDir: join(dataDir, 'store') });
    try {
      const bad = garbled[1].deltas[3];
      const report = await ingestDay(config(join(dataDir, 'store'), `sqlite:${file}`), store);
      const badHours = EXPECTED.filter(
        (e) => e.vmId === 2 && e.hour < bad.timestamp * 1000 && e.hour + HOUR_MS > bad.ptimestamp * 1000,
      ).map((e) => e.hour);
      expect(report.failed.map((f) => f.hour)).toEqual(badHours);
      expect(report.failed[0].error).toMatch(
        /^OpenNebula accounting database: one-2 vm_deltas\.net_rx -500 is not a finite number ≥ 0$/,
      );
      expect(report.okHours).toBe(24 - badHours.length);
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
