import autocannon from 'autocannon';
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { DAY_MS } from '../domain/time';
import { benchVm, fleetToMs, type BenchFleetSpec } from './fleet';
import { verdict } from './format';

/** Connections autocannon keeps open: enough to keep one server core busy, few enough to read latency. */
const CONNECTIONS = 10;
const WARM_UP_SECONDS = 2;

interface Child {
  url: string;
  stop(): Promise<void>;
}

function startChild(args: string[]): Promise<Child> {
  return new Promise((resolve, reject) => {
    const child: ChildProcess = spawn(process.execPath, [join(__dirname, 'api-server.js'), ...args], {
      stdio: ['ignore', 'pipe', 'inherit'],
      // As a service is deployed: graphql-js checks every instanceof across realms unless told it runs in production.
      env: { ...process.env, NODE_ENV: 'production' },
    });
    let text = '';
    child.on('error', reject);
    child.once('exit', (code) => reject(new Error(`bench server exited ${code} before listening`)));
    child.stdout!.on('data', (chunk: Buffer) => {
      text += chunk.toString();
      const line = text.split('\n').find((l) => l.startsWith('{'));
      if (line === undefined || !text.includes('\n')) return;
      const { url } = JSON.parse(line) as { url: string };
      child.removeAllListeners('exit');
      resolve({
        url,
        stop: () =>
          new Promise<void>((done) => {
            child.once('exit', () => done());
            child.kill('SIGTERM');
          }),
      });
    });
  });
}

interface Case {
  name: string;
  what: string;
  query: string;
  variables?: Record<string, unknown>;
}

interface Measured {
  rps: number;
  p50: number;
  p99: number;
  /** Requests that failed or took over 10 s. */
  timeouts: number;
}

const FIGURES = 'busyKwh idleKwh totalKwh busyGco2eq idleGco2eq totalGco2eq';

function cases(spec: BenchFleetSpec): Case[] {
  const to = fleetToMs(spec);
  const iso = (ms: number) => new Date(ms).toISOString();
  const yearFrom = Math.max(spec.fromMs, to - 365 * DAY_MS);
  const project = benchVm(spec, 0).project;
  const days = Math.round((to - yearFrom) / DAY_MS);
  const hoursSpan = days === 365 ? 'a year' : `${days} days`;
  const instances = Array.from({ length: Math.min(50, spec.instances) }, (_, i) => benchVm(spec, i).instance);
  return [
    { name: 'typename', what: 'framework floor: { __typename }', query: '{ __typename }' },
    {
      name: 'dashboard',
      what: '(1) dashboard: 30 daily buckets, one project',
      query: `query($key: String!, $from: DateTime!, $to: DateTime!) {
        usageSeries(level: PROJECT, key: $key, from: $from, to: $to, granularity: DAY) {
          id buckets { start end status failedHours usage { ${FIGURES} } byMachine { machineName usage { totalKwh totalGco2eq } } }
          total { ${FIGURES} } } }`,
      variables: { key: project, from: iso(to - 30 * DAY_MS), to: iso(to) },
    },
    {
      name: 'year-hours-columns',
      what: `(2) ${hoursSpan} of hourly buckets, one project, as columns`,
      query: `query($key: String!, $from: DateTime!, $to: DateTime!) {
        usageSeries(level: PROJECT, key: $key, from: $from, to: $to, granularity: HOUR) {
          id columns { start end status failedHours ${FIGURES} } total { ${FIGURES} } } }`,
      variables: { key: project, from: iso(yearFrom), to: iso(to) },
    },
    {
      name: 'year-hours-buckets',
      what: `(2b) the same ${hoursSpan} of hours as bucket objects`,
      query: `query($key: String!, $from: DateTime!, $to: DateTime!) {
        usageSeries(level: PROJECT, key: $key, from: $from, to: $to, granularity: HOUR) {
          id buckets { start end status failedHours usage { ${FIGURES} } } total { ${FIGURES} } } }`,
      variables: { key: project, from: iso(yearFrom), to: iso(to) },
    },
    {
      name: 'many-by-month',
      what: `(3) usageSeriesMany, ${instances.length} instances by month over the year`,
      query: `query($keys: [String!]!, $from: DateTime!, $to: DateTime!) {
        usageSeriesMany(level: INSTANCE, keys: $keys, from: $from, to: $to, granularity: MONTH) {
          key buckets { start status usage { ${FIGURES} } } total { ${FIGURES} } } }`,
      variables: { keys: instances, from: iso(yearFrom), to: iso(to) },
    },
  ];
}

async function cannon(url: string, body: string, duration: number): Promise<Measured> {
  const options = {
    url,
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body,
    connections: CONNECTIONS,
  };
  await autocannon({ ...options, duration: WARM_UP_SECONDS });
  const result = await autocannon({ ...options, duration });
  if (result.non2xx > 0) throw new Error(`${url}: ${result.non2xx} answers were not 2xx`);
  // Requests slower than autocannon's 10 s timeout are counted, not fatal: they are a figure too.
  return {
    rps: result.requests.average,
    p50: result.latency.p50,
    p99: result.latency.p99,
    timeouts: result.timeouts + result.errors,
  };
}

/**
 * What rendering an answer's JSON alone costs, median of 21 runs, in ms: `JSON.stringify` of the
 * parsed body, the one step every answer built per request must take. The bench's connections
 * are served in turn by one core, so no executed answer's p50 can be below connections × this.
 */
function stringifyMs(body: string): number {
  const value: unknown = JSON.parse(body);
  const runs: number[] = [];
  for (let run = 0; run < 21; run++) {
    const started = process.hrtime.bigint();
    JSON.stringify(value);
    runs.push(Number(process.hrtime.bigint() - started) / 1e6);
  }
  return runs.sort((a, b) => a - b)[10];
}

const fmt = (m: Measured) =>
  `${m.rps.toFixed(0).padStart(7)} req/s  p50 ${String(m.p50).padStart(5)} ms  p99 ${String(m.p99).padStart(5)} ms` +
  (m.timeouts > 0 ? `  (${m.timeouts} timed out)` : '');

export interface ApiBenchOptions {
  spec: BenchFleetSpec;
  /** The JSON store's data directory; its parent holds the bench's scratch files. */
  dataDir: string;
  /** A postgres:// URL: the servers read this store instead of the JSON one. */
  databaseUrl?: string;
  durationSeconds: number;
}

export async function runApiBench({
  spec,
  dataDir,
  databaseUrl,
  durationSeconds,
}: ApiBenchOptions): Promise<void> {
  const store = databaseUrl ?? dataDir;
  const app = await startChild(['app', store]);
  let uncached: Child | undefined;
  let floor: Child | undefined;
  try {
    const all = cases(spec);
    const bodies: Record<string, string> = {};
    const requests: Record<string, string> = {};
    for (const c of all) {
      requests[c.name] = JSON.stringify({ query: c.query, variables: c.variables ?? {} });
      const response = await fetch(app.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: requests[c.name],
      });
      const text = await response.text();
      if (!response.ok || text.includes('"errors"'))
        throw new Error(`${c.name}: ${response.status} ${text.slice(0, 500)}`);
      bodies[c.name] = text;
    }
    const bodiesFile = join(dataDir, '..', 'floor-bodies.json');
    await writeFile(bodiesFile, JSON.stringify(bodies));
    floor = await startChild(['floor', bodiesFile]);
    uncached = await startChild(['app-uncached', store]);
    const origin = new URL(floor.url).origin;

    console.log(
      `\nAPI over the ${databaseUrl ? 'PostgreSQL' : 'JSON'} store (autocannon, ${CONNECTIONS} connections, ` +
        `${durationSeconds} s per run after ${WARM_UP_SECONDS} s warm-up)`,
    );
    // Measured on the server without its answer cache, so it is Apollo executing every time.
    const framework = await cannon(uncached.url, requests.typename, durationSeconds);
    console.log(`  ${all[0].what} (executed, no answer cache)`);
    console.log(`    Apollo        ${fmt(framework)}`);
    const results: Record<string, { app: Measured; uncached: Measured; floor: Measured }> = {};
    for (const c of all.slice(1)) {
      const measuredApp = await cannon(app.url, requests[c.name], durationSeconds);
      const measuredUncached = await cannon(uncached.url, requests[c.name], durationSeconds);
      const measuredFloor = await cannon(`${origin}/${c.name}`, requests[c.name], durationSeconds);
      results[c.name] = { app: measuredApp, uncached: measuredUncached, floor: measuredFloor };
      const vs = (m: Measured) =>
        `req/s ${(m.rps / measuredFloor.rps).toFixed(3)} of the HTTP floor's, ${(m.rps / framework.rps).toFixed(3)} of the framework floor's; ` +
        `p50 ${(m.p50 / Math.max(1, measuredFloor.p50)).toFixed(1)}× the HTTP floor's`;
      console.log(`  ${c.what} — ${(Buffer.byteLength(bodies[c.name]) / 1024).toFixed(1)} KiB answer`);
      console.log(`    carbonledger  ${fmt(measuredApp)}   ${vs(measuredApp)}`);
      console.log(`    no cache      ${fmt(measuredUncached)}   ${vs(measuredUncached)}`);
      console.log(`    HTTP floor    ${fmt(measuredFloor)}`);
    }
    const dashboard = results.dashboard.app.rps / framework.rps;
    const hours = results['year-hours-columns'];
    const hoursLatency = hours.app.rps > 0 ? hours.app.p50 / Math.max(1, hours.floor.p50) : Infinity;
    console.log('  targets');
    console.log(
      `    dashboard req/s ≥ 0.5 × framework floor: ${dashboard.toFixed(2)} (${verdict(dashboard >= 0.5)})`,
    );
    console.log(
      `    year of hours (columns) p50 ≤ 3 × HTTP floor's: ${hoursLatency.toFixed(1)}× (${verdict(hoursLatency <= 3)})`,
    );
    if (databaseUrl) {
      // Uncached: every request reads the database, which is what a replica does after a commit.
      // No answer at all within autocannon's 10 s is a miss, not a p50 of 0.
      const uncachedHours =
        hours.uncached.rps > 0 ? hours.uncached.p50 / Math.max(1, hours.floor.p50) : Infinity;
      const uncachedDashboard = results.dashboard.uncached.p50 / Math.max(1, results.dashboard.floor.p50);
      console.log(
        `    year of hours (columns), uncached, p50 ≤ 3 × HTTP floor's: ${uncachedHours.toFixed(1)}× ` +
          `(${verdict(uncachedHours <= 3)})`,
      );
      console.log(`    30-day dashboard, uncached, p50: ${uncachedDashboard.toFixed(1)}× the HTTP floor's`);
      const rendering = stringifyMs(bodies['year-hours-columns']);
      console.log(
        `    bound: rendering the year of hours' JSON alone takes ${rendering.toFixed(1)} ms; ${CONNECTIONS} connections ` +
          `served in turn by one core wait ≥ ${(CONNECTIONS * rendering).toFixed(0)} ms, ` +
          `${((CONNECTIONS * rendering) / Math.max(1, hours.floor.p50)).toFixed(1)}× the HTTP floor's p50, for any answer built per request`,
      );
    }
  } finally {
    await uncached?.stop();
    await floor?.stop();
    await app.stop();
  }
}
