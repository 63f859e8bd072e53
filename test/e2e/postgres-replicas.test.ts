import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { LEVELS } from '../../src/domain/levels';
import { DAY_MS, utcDate } from '../../src/domain/time';
import { openPostgresStore, type PostgresStore } from '../../src/store/postgres';
import { startLab, type Lab } from '../support/lab/prometheus-lab';
import { createTestDatabase, type TestDatabase } from '../support/postgres';

/**
 * Several processes on one PostgreSQL database, as an operator deploys them: `serve` replicas and
 * `ingest` runs, each its own process (src/cli.ts through swc, as jest runs it), over the real
 * Prometheus lab. Kills are SIGKILL: nothing gets to clean up.
 */
const ROOT = resolve(__dirname, '../..');
const FROM = '2025-09-21T00:00:00Z';
const TO = '2025-09-23T00:00:00Z';
/** Hours of the lab after TO, ingested while the replicas serve. */
const LATE_TO = '2025-09-23T02:00:00Z';
const JOB_LEASE_MS = 4000;

interface Cli {
  child: ChildProcess;
  stderr(): string;
  exit: Promise<{ code: number | null; signal: string | null }>;
  /** Resolves once stderr matches `pattern` (checked as it grows). */
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<RegExpMatchArray>;
}

function cli(args: string[]): Cli {
  const child = spawn(process.execPath, ['-r', './test/support/swc-register.js', 'src/cli.ts', ...args], {
    cwd: ROOT,
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exit = once(child, 'exit').then(([code, signal]) => ({
    code: code as number | null,
    signal: signal as string | null,
  }));
  return {
    child,
    stderr: () => stderr,
    exit,
    async waitFor(pattern, timeoutMs = 60_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const match = pattern.exec(stderr);
        if (match) return match;
        if (child.exitCode !== null || child.signalCode !== null || Date.now() > deadline) {
          throw new Error(`no ${pattern} from ${args[0]}:\n${stderr.slice(-3000)}`);
        }
        await new Promise((done) => setTimeout(done, 50));
      }
    },
  };
}

/**
 * A Prometheus that cannot answer: each request fails at once (503), or, once told to hold, is
 * never answered, so the run asking it waits for its own timeout.
 */
async function unansweringPrometheus(): Promise<{ url: string; hold(): void; close(): Promise<void> }> {
  let holding = false;
  const server: Server = createServer((_req, res) => {
    if (holding) return;
    res.writeHead(503, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ status: 'error', errorType: 'unavailable', error: 'a test Prometheus' }));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}`,
    hold: () => void (holding = true),
    close: () => {
      server.closeAllConnections();
      return new Promise((done) => server.close(() => done()));
    },
  };
}

let lab: Lab;
const scratch: string[] = [];
const databases: TestDatabase[] = [];
const running: Cli[] = [];

function configFile(db: TestDatabase, prometheusUrl: string, schedule: Record<string, string> = {}): string {
  const dir = mkdtempSync(join(tmpdir(), 'cl-replicas-'));
  scratch.push(dir);
  const file = join(dir, 'config.json');
  writeFileSync(
    file,
    JSON.stringify({
      // Two-hour steps: a kill lands in the middle of a batch as often as not.
      prometheus: { url: prometheusUrl, chunkHours: 2, attempts: 1, timeoutMs: 10_000 },
      workspaces: { file: lab.registryFile },
      carbon: { source: 'static', gPerKwh: 180 },
      store: { kind: 'postgres', url: db.url, dataDir: join(dir, 'data'), jobLeaseMs: JOB_LEASE_MS },
      schedule: { reconcile: '0 0 1 1 *', active: '0 0 1 1 *', ...schedule },
    }),
  );
  return file;
}

async function database(): Promise<TestDatabase> {
  const db = await createTestDatabase('cl_replicas');
  databases.push(db);
  return db;
}

function start(args: string[]): Cli {
  const started = cli(args);
  running.push(started);
  return started;
}

async function serve(config: string, schedule: boolean): Promise<string> {
  const replica = start(['serve', '--config', config, '--port', '0', ...(schedule ? [] : ['--no-schedule'])]);
  const [, url] = await replica.waitFor(/serving (http:\/\/\S+)/, 120_000);
  return url;
}

async function ask(url: string, query: string): Promise<unknown> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ query }),
  });
  return response.json();
}

/** Every key's days, months and years as the store answers them, with the ledger: what a reader sees. */
async function contents(store: PostgresStore) {
  const dates = [utcDate(Date.parse(FROM)), utcDate(Date.parse(FROM) + DAY_MS)];
  const out: unknown[] = [[...(await store.readLedger(Date.parse(FROM), Date.parse(TO)))]];
  for (const level of LEVELS) {
    const keys = await store.listKeys(level);
    out.push(keys, await Promise.all(dates.map((date) => store.readDays(level, date, keys))));
    out.push(await store.readMonths(level, '2025-09', keys), await store.readYears(level, '2025', keys));
  }
  return out;
}

beforeAll(async () => {
  lab = await startLab();
}, 300_000);

afterAll(async () => {
  for (const process of running) process.child.kill('SIGKILL');
  await Promise.all(running.map((process) => process.exit));
  await lab?.stop();
  await Promise.all(databases.map((db) => db.drop()));
  for (const path of scratch) rmSync(path, { recursive: true, force: true });
}, 120_000);

describe('ingest and serve replicas on one PostgreSQL database', () => {
  let db: TestDatabase;
  let reference: unknown[];

  beforeAll(async () => {
    const uninterrupted = await database();
    const run = start(['ingest', '--from', FROM, '--to', TO, '--config', configFile(uninterrupted, lab.url)]);
    expect(await run.exit).toMatchObject({ code: 0 });
    const store = await openPostgresStore({ url: uninterrupted.url });
    reference = await contents(store).finally(() => store.close());
    db = await database();
  }, 300_000);

  it('kill -9 of an ingest mid-batch leaves whole batches only; the next run completes it', async () => {
    const config = configFile(db, lab.url);
    const killed = start(['ingest', '--from', FROM, '--to', TO, '--config', config]);
    await killed.waitFor(/(?:"msg":"ingested step"[\s\S]*?){5}/, 120_000);
    killed.child.kill('SIGKILL');
    expect(await killed.exit).toMatchObject({ signal: 'SIGKILL' });
    const store = await openPostgresStore({ url: db.url });
    try {
      const ledger = await store.readLedger(Date.parse(FROM), Date.parse(TO));
      // Two-hour batches: the ledger holds whole ones, the same as the uninterrupted run's.
      expect(ledger.size % 2).toBe(0);
      expect(ledger.size).toBeGreaterThanOrEqual(10);
      const whole = (reference[0] as Array<[number, unknown]>).slice(0, ledger.size);
      expect([...ledger]).toEqual(whole);
      await expectRollupsEqualTheirParts(store);
    } finally {
      await store.close();
    }
    const rerun = start(['ingest', '--from', FROM, '--to', TO, '--config', config]);
    expect(await rerun.exit).toMatchObject({ code: 0 });
    const after = await openPostgresStore({ url: db.url });
    expect(await contents(after).finally(() => after.close())).toEqual(reference);
  }, 300_000);

  it('two replicas answer the same, and both serve a commit within 5 s of it', async () => {
    const config = configFile(db, lab.url);
    const replicas = await Promise.all([serve(config, false), serve(config, false)]);
    const late = `{ usageSeries(level: PROJECT, key: "IDAaaS", from: "${TO}", to: "${LATE_TO}", granularity: HOUR) {
        total { totalKwh } buckets { start status usage { busyKwh } } } }`;
    const queries = [
      '{ usageKeys(level: INSTANCE) }',
      `{ usageSeries(level: USER, key: "alice", from: "${FROM}", to: "${TO}", granularity: HOUR) {
          total { totalKwh totalGco2eq } buckets { status usage { busyKwh idleKwh } } } }`,
      late,
    ];
    const answers = await Promise.all(replicas.map((url) => Promise.all(queries.map((q) => ask(url, q)))));
    expect(JSON.stringify(answers[0])).not.toContain('"errors"');
    expect(answers[1]).toEqual(answers[0]);
    // Both have the late hours' answer cached as not ingested; an ingest in another process commits them.
    const before = JSON.stringify(answers[0][2]);
    expect(before).toContain('"MISSING"');
    const ingest = start(['ingest', '--from', TO, '--to', LATE_TO, '--config', config]);
    expect(await ingest.exit).toMatchObject({ code: 0 });
    const committed = Date.now();
    const seen = await Promise.all(
      replicas.map(async (url) => {
        for (;;) {
          const asked = Date.now();
          const answer = JSON.stringify(await ask(url, late));
          if (answer !== before) return { asked: asked - committed, answer };
          if (asked - committed > 30_000) return { asked: asked - committed, answer };
          await new Promise((done) => setTimeout(done, 100));
        }
      }),
    );
    for (const { asked, answer } of seen) {
      expect(answer).not.toContain('"MISSING"');
      // Contract section 9: no replica serves an older answer for longer than 5 s after a commit.
      expect(asked).toBeLessThan(5000);
    }
    expect(seen[1].answer).toBe(seen[0].answer);
  }, 300_000);

  it('runs a scheduled job once per tick across replicas, and on the other within the lease once its holder is killed', async () => {
    // A fresh database: every run finds no ok hour, so asks Prometheus for the last 24 hours again.
    const prometheus = await unansweringPrometheus();
    try {
      const scheduled = await database();
      const config = configFile(scheduled, prometheus.url, { ingest: '*/2 * * * * *' });
      const replicas = [
        start(['serve', '--config', config, '--port', '0']),
        start(['serve', '--config', config, '--port', '0']),
      ];
      await Promise.all(replicas.map((replica) => replica.waitFor(/serving http/, 120_000)));
      const ticksOf = (replica: Cli): string[] =>
        replica
          .stderr()
          .split('\n')
          .filter((line) => line.includes('"claimed the tick"'))
          .map((line) => JSON.parse(line) as { plugin: string; tick: string })
          .filter((line) => line.plugin === 'prometheus-ingest')
          .map((line) => line.tick);
      // Let a few ticks pass (each run fails its hours at once): each claimed by one replica only.
      const deadline = Date.now() + 60_000;
      while (ticksOf(replicas[0]).length + ticksOf(replicas[1]).length < 4 && Date.now() < deadline) {
        await new Promise((done) => setTimeout(done, 200));
      }
      const claimed = [...ticksOf(replicas[0]), ...ticksOf(replicas[1])];
      expect(claimed.length).toBeGreaterThanOrEqual(4);
      expect(new Set(claimed).size).toBe(claimed.length);

      // Prometheus stops answering: the next run hangs, its replica holding the job's lease.
      prometheus.hold();
      // The holder of a run under way, as the lease row names it (host/pid/…): the same tick held
      // for over a second and a half is a run waiting on the held Prometheus.
      const holderIndex = await hangingHolder(scheduled, replicas);
      const other = replicas[1 - holderIndex];
      const otherBefore = ticksOf(other).length;
      replicas[holderIndex].child.kill('SIGKILL');
      const killedAt = Date.now();
      await replicas[holderIndex].exit;
      while (ticksOf(other).length === otherBefore && Date.now() - killedAt < 60_000) {
        await new Promise((done) => setTimeout(done, 100));
      }
      const tookOver = Date.now() - killedAt;
      expect(ticksOf(other).length).toBeGreaterThan(otherBefore);
      // The lease runs out at most JOB_LEASE_MS after the dead holder's last renewal; the next tick
      // (every 2 s) is then the other's. Generous slack: the machine is shared.
      expect(tookOver).toBeLessThan(JOB_LEASE_MS + 2000 + 15_000);
      const all = [...ticksOf(replicas[0]), ...ticksOf(replicas[1])];
      expect(new Set(all).size).toBe(all.length);
    } finally {
      await prometheus.close();
    }
  }, 300_000);
});

/** The index of the replica whose run of the ingest job has held its lease for 1.5 s. */
async function hangingHolder(db: TestDatabase, replicas: Cli[]): Promise<number> {
  let seen: { lease: string; since: number } | undefined;
  const deadline = Date.now() + 120_000;
  while (Date.now() < deadline) {
    const [row] = await db.query<{ tick: string; holder: string | null }>(
      `SELECT tick::text AS tick, holder FROM job_lease WHERE job = 'prometheus-ingest'`,
    );
    const lease = row?.holder ? `${row.tick} ${row.holder}` : undefined;
    if (lease === undefined || lease !== seen?.lease)
      seen = lease === undefined ? undefined : { lease, since: Date.now() };
    else if (Date.now() - seen.since > 1500) {
      const pid = Number(row.holder!.split('/')[1]);
      const index = replicas.findIndex((replica) => replica.child.pid === pid);
      if (index >= 0) return index;
    }
    await new Promise((done) => setTimeout(done, 100));
  }
  throw new Error('no run of the ingest job held its lease for 1.5 s');
}

/** Day totals equal their hours, months their days, years their months: read back through the store. */
async function expectRollupsEqualTheirParts(store: PostgresStore): Promise<void> {
  for (const level of LEVELS) {
    const keys = await store.listKeys(level);
    const [days, months] = await Promise.all([
      Promise.all(['2025-09-21', '2025-09-22'].map((date) => store.readDays(level, date, keys))),
      store.readMonths(level, '2025-09', keys),
    ]);
    months.forEach((month, i) => {
      const busy = days.reduce((sum, day) => sum + (day[i]?.totals.all.busyKwh ?? 0), 0);
      expect(month?.totals.all.busyKwh ?? 0).toBeCloseTo(busy, 9);
    });
  }
}
