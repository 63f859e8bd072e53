import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseConfig } from '../../src/config';
import { fixedClock } from '../../src/domain/clock';
import { silentLogger } from '../../src/log';
import { startService, type RunningService } from '../../src/serve';
import { createTestDatabase, queryOnce, type TestDatabase } from '../support/postgres';
import { startStandby, type TemporaryCluster } from '../support/postgres-cluster';

const NOW = Date.parse('2026-03-10T12:00:00Z');

/**
 * Two `serve` replicas on one database: one reads the primary, the other a real streaming hot
 * standby of it (pg_basebackup from the machine's server into a cluster of the test's own).
 */
describe('serve over PostgreSQL with a hot standby serving reads', () => {
  let database: TestDatabase;
  let standby: TemporaryCluster;
  let primaryReplica: RunningService;
  let standbyReplica: RunningService;
  let dataDir: string;

  beforeAll(async () => {
    database = await createTestDatabase('cl_standby');
    standby = await startStandby();
    dataDir = mkdtempSync(join(tmpdir(), 'carbonledger-standby-'));
    const store = { kind: 'postgres', url: database.url, dataDir };
    // The demo fills the store through the ingestion path, as an hourly run would.
    primaryReplica = await startService({
      config: parseConfig({ store, server: { port: 0 } }),
      log: silentLogger,
      schedule: false,
      demo: true,
      demoDays: 3,
      clock: fixedClock(NOW),
    });
    standbyReplica = await startService({
      config: parseConfig({
        store: { ...store, readUrl: standby.urlOf(database.name) },
        server: { port: 0 },
      }),
      log: silentLogger,
      schedule: false,
      demo: false,
      clock: fixedClock(NOW),
    });
  });

  afterAll(async () => {
    await standbyReplica?.close();
    await primaryReplica?.close();
    await standby?.destroy();
    await database?.drop();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  async function ask(service: RunningService, query: string): Promise<unknown> {
    const response = await fetch(service.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query }),
    });
    return response.json();
  }

  it('reads from the standby, and both replicas answer the same within 5 s of the commit', async () => {
    const [{ recovering }] = await queryOnce<{ recovering: boolean }>(
      standby.urlOf(database.name),
      'SELECT pg_is_in_recovery() AS recovering',
    );
    expect(recovering).toBe(true);
    const queries = [
      '{ usageKeys(level: PROJECT) }',
      `{ usageSeries(level: PROJECT, key: "IDAaaS", from: "2026-03-07", to: "2026-03-10T12:00:00Z", granularity: HOUR) {
          total { totalKwh totalGco2eq } buckets { start status usage { busyKwh idleKwh } byMachine { machineName } } } }`,
      `{ usageSeries(level: USER, key: "alice", from: "2026-03-01", to: "2026-04-01", granularity: DAY) {
          total { busyCpuSeconds } buckets { status failedHours usage { totalKwh } } } }`,
    ];
    const expected = await Promise.all(queries.map((query) => ask(primaryReplica, query)));
    expect(JSON.stringify(expected)).not.toContain('"errors"');
    expect((expected[0] as { data: { usageKeys: string[] } }).data.usageKeys.length).toBeGreaterThan(0);
    const deadline = Date.now() + 5000;
    let answers: unknown[] = [];
    do {
      answers = await Promise.all(queries.map((query) => ask(standbyReplica, query)));
      if (JSON.stringify(answers) === JSON.stringify(expected)) break;
      await new Promise((resolve) => setTimeout(resolve, 200));
    } while (Date.now() < deadline);
    expect(answers).toEqual(expected);
  });
});
