import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseConfig } from '../../src/config';
import { fixedClock } from '../../src/domain/clock';
import { jsonLogger, silentLogger } from '../../src/log';
import { summarizeCommand } from '../../src/cli/summarize';
import { hourLabel, HOUR_MS } from '../../src/domain/time';
import type { DayEntry } from '../../src/domain/usage';
import { startService, type RunningService } from '../../src/serve';
import { openPostgresStore } from '../../src/store/postgres';
import { applyOne, batch, okHour, usage } from '../support/describe-store/fixtures';
import { createTestDatabase, queryOnce, type TestDatabase } from '../support/postgres';
import { startStandby, startTemporaryCluster, type TemporaryCluster } from '../support/postgres-cluster';

const NOW = Date.parse('2026-03-10T12:00:00Z');

/**
 * Two `serve` replicas on one database: one reads the primary, the other a real streaming hot
 * standby of it (`pg_basebackup -R -X stream`, as the README says, from a cluster of the test's
 * own into another). The standby's replay paused, or the standby stopped, the API still answers
 * each commit within 5 s (from the primary), and jobs never read the standby.
 */
describe('serve over PostgreSQL with a hot standby serving reads', () => {
  let database: TestDatabase;
  let primaryCluster: TemporaryCluster;
  let standby: TemporaryCluster;
  let primaryReplica: RunningService;
  let standbyReplica: RunningService;
  let dataDir: string;
  /** What the replica reading the standby logged. */
  const standbyLog: string[] = [];

  beforeAll(async () => {
    // A primary of the test's own: the base backup copies a small cluster, not the machine's server.
    primaryCluster = await startTemporaryCluster();
    database = await createTestDatabase('cl_standby', primaryCluster.url);
    standby = await startStandby(primaryCluster);
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
      log: jsonLogger((line) => standbyLog.push(line)),
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
    await primaryCluster?.destroy();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  /**
   * Commits, through the primary, one ok hour at `iso` of `key` at `level`, or with `allDay` each
   * hour of that day: what an hourly ingestion commits.
   */
  async function ingest(level: 'PROJECT' | 'USER', key: string, iso: string, allDay = false): Promise<void> {
    const start = Date.parse(iso);
    const hours = allDay ? Array.from({ length: 24 }, (_, i) => start + i * HOUR_MS) : [start];
    const entry: DayEntry = {
      level,
      key,
      date: iso.slice(0, 10),
      hours: Object.fromEntries(hours.map((hour) => [hourLabel(hour), usage(1)])),
      totals: usage(hours.length),
    };
    const primary = await openPostgresStore({ url: database.url, migrate: false });
    try {
      await applyOne(
        primary,
        batch(
          hours.map((hour) => okHour(new Date(hour).toISOString())),
          [entry],
        ),
      );
    } finally {
      await primary.close();
    }
  }

  /** Asks `query` until `done` holds of the answer or 5 s have passed; the last answer and when. */
  async function within5s(
    service: RunningService,
    query: string,
    done: (answer: unknown) => boolean,
  ): Promise<{ answer: unknown; ms: number }> {
    const started = Date.now();
    let answer: unknown;
    do {
      answer = await ask(service, query);
      if (done(answer)) break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    } while (Date.now() - started < 5000);
    return { answer, ms: Date.now() - started };
  }

  const KEYS = '{ usageKeys(level: PROJECT) }';
  const keysOf = (answer: unknown) => (answer as { data?: { usageKeys?: string[] } }).data?.usageKeys ?? [];

  /** Whether the standby holds `key` itself (its replay may be paused). */
  async function standbyHolds(key: string): Promise<boolean> {
    const rows = await queryOnce(standby.urlOf(database.name), 'SELECT 1 FROM usage_key WHERE key = $1', [
      key,
    ]);
    return rows.length > 0;
  }

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

  it('answers a commit within 5 s from the primary while the standby has not replayed it', async () => {
    await queryOnce(standby.urlOf(database.name), 'SELECT pg_wal_replay_pause()');
    try {
      await ingest('PROJECT', 'PausedReplay', '2026-03-10T13:00:00Z');
      const { answer, ms } = await within5s(standbyReplica, KEYS, (a) => keysOf(a).includes('PausedReplay'));
      expect(keysOf(answer)).toContain('PausedReplay');
      expect(ms).toBeLessThan(5000);
      // The standby itself still lacks it: the answer came from the primary.
      expect(await standbyHolds('PausedReplay')).toBe(false);
    } finally {
      await queryOnce(standby.urlOf(database.name), 'SELECT pg_wal_replay_resume()');
    }
  });

  it('runs a job with readUrl configured on the primary, never the standby', async () => {
    const config = join(dataDir, 'standby.json');
    writeFileSync(
      config,
      JSON.stringify({
        store: { kind: 'postgres', url: database.url, readUrl: standby.urlOf(database.name), dataDir },
      }),
    );
    await queryOnce(standby.urlOf(database.name), 'SELECT pg_wal_replay_pause()');
    const written: string[] = [];
    const write = jest.spyOn(process.stdout, 'write').mockImplementation((chunk, ...rest) => {
      written.push(String(chunk));
      const callback = rest.find((arg) => typeof arg === 'function') as (() => void) | undefined;
      callback?.();
      return true;
    });
    const stderr = jest.spyOn(process.stderr, 'write').mockImplementation(() => true);
    try {
      await ingest('USER', 'paused-replay-user', '2026-03-12T00:00:00Z', true);
      expect(await standbyHolds('paused-replay-user')).toBe(false);
      expect(await summarizeCommand(['--date', '2026-03-12', '--config', config], NOW + 3 * 86_400_000)).toBe(
        0,
      );
    } finally {
      write.mockRestore();
      stderr.mockRestore();
      await queryOnce(standby.urlOf(database.name), 'SELECT pg_wal_replay_resume()');
    }
    expect(written.join('')).toBe('summarize 2026-03-12: 1 user(s) summarised; complete\n');
  });

  it('answers from the primary while the standby is down, starts without it, and returns to it', async () => {
    await standby.stop('fast');
    let late: RunningService | undefined;
    const lateLog: string[] = [];
    try {
      await ingest('PROJECT', 'StandbyDown', '2026-03-10T14:00:00Z');
      const { answer } = await within5s(standbyReplica, KEYS, (a) => keysOf(a).includes('StandbyDown'));
      expect(answer).toEqual({ data: { usageKeys: expect.arrayContaining(['IDAaaS', 'StandbyDown']) } });
      expect(standbyLog.join('\n')).toMatch(
        /"level":"warn","msg":"store.readUrl: the standby cannot be read/,
      );
      const ready = await fetch(new URL('/readyz', standbyReplica.url));
      expect(ready.status).toBe(200);

      // A replica started while its standby is down reads from the primary, and says so.
      late = await startService({
        config: parseConfig({
          store: { kind: 'postgres', url: database.url, dataDir, readUrl: standby.urlOf(database.name) },
          server: { port: 0 },
        }),
        log: jsonLogger((line) => lateLog.push(line)),
        schedule: false,
        demo: false,
        clock: fixedClock(NOW),
      });
      expect(lateLog.join('\n')).toMatch(/"level":"warn","msg":"store.readUrl: the standby cannot be read/);
      expect(keysOf(await ask(late, KEYS))).toContain('StandbyDown');
    } finally {
      await late?.close();
      await standby.start();
    }
    // Back up: once it answers and has caught up, the API reads from it again (each question asked
    // afresh, not from the answer cache, and seen on the standby as its connection's last query).
    await ingest('PROJECT', 'StandbyBack', '2026-03-10T15:00:00Z');
    const deadline = Date.now() + 20_000;
    let readFromStandby = false;
    for (let i = 0; !readFromStandby && Date.now() < deadline; i++) {
      const answer = await ask(standbyReplica, `{ keys${i}: usageKeys(level: PROJECT) }`);
      expect(JSON.stringify(answer)).toContain('StandbyBack');
      const rows = await queryOnce(
        standby.urlOf(database.name),
        `SELECT 1 FROM pg_stat_activity
         WHERE application_name = 'carbonledger' AND datname = $1 AND query LIKE '%FROM usage_key k%'`,
        [database.name],
      );
      readFromStandby = rows.length > 0;
      if (!readFromStandby) await new Promise((resolve) => setTimeout(resolve, 200));
    }
    expect(readFromStandby).toBe(true);
    expect(standbyLog.join('\n')).toMatch(/the standby answers again/);
  });
});
