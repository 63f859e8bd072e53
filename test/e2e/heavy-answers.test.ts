import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { ConfigSchema } from '../../src/config';
import { seedDemo } from '../../src/demo/seed';
import { silentLogger } from '../../src/log';
import { openStore } from '../../src/store/open';
import { withWriter } from '../../src/store/store';
import { type MeasuredProcess, startMeasured } from '../support/memory-probe';

/**
 * Issue 14, item 9: 220 connections each asking for a year of hours and never reading the answer
 * took `serve` from 0.2 to 5 GB, and it kept 2.2 GB after they closed. Here a real `serve`
 * process gets 40 such connections; its memory is measured after garbage collection, so the
 * figures are what it holds, not garbage it has not collected yet.
 */
const CONNECTIONS = 40;
const MB = 1024 * 1024;
// A year of demo usage makes each answer larger than what loopback sockets take from a client that reads nothing.
const SEEDED_DAYS = 366;

let dir: string;
let serve: MeasuredProcess;
let origin: string;

/** A year of hours of one demo project, every bucket figure: megabytes of JSON. `hour` varies the end. */
function heavyQuery(hour: number): string {
  const to = new Date(Math.floor(Date.now() / 3_600_000) * 3_600_000 - hour * 3_600_000).toISOString();
  const from = new Date(Date.parse(to) - 365 * 24 * 3_600_000).toISOString();
  return `{ usageSeries(level: PROJECT, key: "IDAaaS", from: "${from}", to: "${to}", granularity: HOUR) {
    id buckets { id start end countedFrom countedTo status failedHours
      usage { busyCpuSeconds idleCpuSeconds busyKwh idleKwh busyGco2eq idleGco2eq totalKwh totalGco2eq }
      byMachine { machineName usage { busyKwh idleKwh totalKwh totalGco2eq } } } } }`;
}

function post(query: string): Promise<Response> {
  return fetch(`${origin}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ query }),
  });
}

/** Sends `query` over a connection that reads nothing of what comes back. */
function sendUnread(query: string): Socket {
  const body = JSON.stringify({ query });
  const { hostname, port } = new URL(origin);
  const socket = connect(Number(port), hostname, () => {
    socket.write(
      `POST /graphql HTTP/1.1\r\nhost: ${hostname}\r\ncontent-type: application/json\r\n` +
        `content-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
    );
  });
  socket.pause();
  socket.on('error', () => undefined);
  return socket;
}

/** A series of the service's own metrics, by name and labels; 0 when it has none yet. */
async function metric(name: string, labels: Record<string, string> = {}): Promise<number> {
  const text = await (await fetch(`${origin}/metrics`)).text();
  const pairs = Object.entries(labels).map(([label, value]) => `${label}="${value}"`);
  const line = text
    .split('\n')
    .find((l) => (l.startsWith(`${name}{`) || l.startsWith(`${name} `)) && pairs.every((p) => l.includes(p)));
  return line === undefined ? 0 : Number(line.slice(line.lastIndexOf(' ') + 1));
}

const refusedCount = () => metric('carbonledger_http_requests_total', { route: 'graphql', status: '503' });
/** Series answered (their answers held, unread, or sent), the warm-up's included. */
const answeredCount = () =>
  metric('carbonledger_graphql_operations_total', { operation: 'usageSeries', outcome: 'ok' });
const costInFlight = () => metric('carbonledger_answer_cost_in_flight');

/** Waits, checking every 100 ms, until `done` holds; the test's own timeout bounds it. */
async function until(done: () => Promise<boolean>): Promise<void> {
  while (!(await done())) await new Promise((resolve) => setTimeout(resolve, 100));
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'cl-heavy-answers-'));
  const dataDir = join(dir, 'data');
  const config = ConfigSchema.parse({
    store: { kind: 'json', dataDir },
    // Long enough that the unread answers stay held while the test looks.
    server: { sendTimeoutMs: 600_000 },
  });
  const store = await openStore(config.store, silentLogger);
  try {
    await withWriter(store, { purpose: 'test seed' }, (writer) =>
      seedDemo({
        store,
        writer,
        energy: config.energy,
        log: silentLogger,
        now: Date.now(),
        days: SEEDED_DAYS,
      }),
    );
  } finally {
    await store.close();
  }
  writeFileSync(
    join(dir, 'config.json'),
    JSON.stringify({ store: { dataDir }, server: { sendTimeoutMs: 600_000 } }),
  );
  serve = await startMeasured(
    ['serve', '--config', join(dir, 'config.json'), '--port', '0', '--no-schedule'],
    dir,
    /serving (http:\/\/[^/\s]+)/,
  );
  origin = /serving (http:\/\/[^/\s]+)/.exec(serve.stderr())![1];
}, 600_000);

afterAll(async () => {
  await serve?.stop();
  rmSync(dir, { recursive: true, force: true });
});

it(`refuses ${CONNECTIONS} unread year-of-hours answers past the budget, keeps serving, and gives the memory back`, async () => {
  // Warm: the store's read cache and the code paths, so the baseline holds them.
  const warm = await post(heavyQuery(CONNECTIONS + 1));
  expect(warm.status).toBe(200);
  const answerBytes = (await warm.text()).length;
  expect(answerBytes).toBeGreaterThan(6 * MB);
  const baseline = await serve.memoryAfterGc();

  const sockets = Array.from({ length: CONNECTIONS }, (_, i) => sendUnread(heavyQuery(i + 1)));
  try {
    // Every request is either refused or admitted and held (unread, its answer cannot finish).
    await until(async () => (await refusedCount()) + (await answeredCount()) - 1 === CONNECTIONS);
    // The default budget holds two of the costliest operations; these cost a little less.
    expect(await answeredCount()).toBeLessThanOrEqual(1 + 4);
    expect(await refusedCount()).toBeGreaterThanOrEqual(CONNECTIONS - 4);
    expect(await costInFlight()).toBeGreaterThan(0);
    expect(await costInFlight()).toBeLessThanOrEqual(2_200_000);

    // The probes and small questions still answer beside the held answers.
    expect((await fetch(`${origin}/healthz`)).status).toBe(200);
    expect((await (await post('{ usageKeys(level: PROJECT) }')).json()).data.usageKeys).toContain('IDAaaS');

    // What the held answers keep is a few answers' worth, not one per connection.
    const held = await serve.memoryAfterGc();
    const grown = held.heapUsed + held.external - (baseline.heapUsed + baseline.external);
    expect(grown).toBeLessThan(Math.max(150 * MB, 12 * answerBytes));
  } finally {
    for (const socket of sockets) socket.destroy();
  }

  await until(async () => (await costInFlight()) === 0);
  const after = await serve.memoryAfterGc();
  // Back to the baseline but for answers the answer cache keeps (at most 64 M characters).
  expect(after.heapUsed + after.external).toBeLessThan(baseline.heapUsed + baseline.external + 100 * MB);
  // The process gives pages back too; generous, as the allocator keeps some.
  expect(after.rss).toBeLessThan(baseline.rss + 600 * MB);
  process.stderr.write(
    `heavy answers: answer ${(answerBytes / MB).toFixed(1)} MB; after GC, heap+external ` +
      `${Math.round((baseline.heapUsed + baseline.external) / MB)} MB before, ` +
      `${Math.round((after.heapUsed + after.external) / MB)} MB after; RSS ${Math.round(baseline.rss / MB)} → ${Math.round(after.rss / MB)} MB\n`,
  );
}, 600_000);
