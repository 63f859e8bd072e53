import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { cpus, tmpdir, totalmem } from 'node:os';
import { extname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { DAY_MS } from '../domain/time';
import { benchFleet, fleetToMs, writeBenchRegistry } from './fleet';
import { backfillFleet, startBenchPrometheus } from './prometheus';
import { freePort } from './watched-process';

/**
 * `npm run load`: holds concurrent dashboard queries against the real server (`carbonledger
 * serve`, a child process) while `carbonledger ingest` (another child) writes to the same store,
 * and reports throughput, latency, errors of every kind, and the resident memory of both
 * processes. The data comes from the bench fleet in a real Prometheus (src/bench/prometheus.ts).
 * The first half of the fleet's days is ingested before the load starts; the second half is
 * ingested during it, then the whole range again and again until the load ends.
 */
const USAGE = `usage: npm run load -- [--instances N] [--days D] [--duration S] [--connections C]
  --instances   VMs in the fleet (default 40)
  --days        days of data from 2025-01-01 (default 28)
  --duration    seconds of load (default 30)
  --connections concurrent HTTP connections (default 8)`;

/** autocannon's programmatic API, the parts used here (the package ships no types). */
interface AutocannonRequest {
  method: string;
  path: string;
  headers: Record<string, string>;
  body: string;
}
interface AutocannonResult {
  requests: { total: number; average: number };
  latency: { average: number; p50: number; p99: number; max: number };
  errors: number;
  timeouts: number;
  non2xx: number;
  statusCodeStats?: Record<string, { count: number }>;
}
type Autocannon = (options: {
  url: string;
  connections: number;
  duration: number;
  requests: AutocannonRequest[];
}) => Promise<AutocannonResult>;

// eslint-disable-next-line @typescript-eslint/no-require-imports
const autocannon = require('autocannon') as Autocannon;

/** The CLI beside this file: dist/cli.js when built, src/cli.ts when run through a TypeScript loader. */
const CLI = join(__dirname, '..', `cli${extname(__filename)}`);

function runCli(args: string[], stdio: 'ignore' | 'inherit' = 'ignore'): ChildProcess {
  return spawn(process.execPath, [...process.execArgv, CLI, ...args], { stdio: ['ignore', 'ignore', stdio] });
}

async function exitOf(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null) return child.exitCode;
  const [code] = (await once(child, 'exit')) as [number | null];
  return code;
}

/** Resident memory of a process, in MiB, from /proc (Linux); undefined once it has gone. */
function rssMiB(pid: number | undefined): number | undefined {
  if (pid === undefined) return undefined;
  try {
    const kib = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
    return kib === undefined ? undefined : Number(kib) / 1024;
  } catch {
    return undefined;
  }
}

class RssSampler {
  private readonly samples = new Map<string, number[]>();
  private timer: NodeJS.Timeout | undefined;

  start(targets: () => Record<string, number | undefined>, everyMs = 250): void {
    this.timer = setInterval(() => {
      for (const [name, pid] of Object.entries(targets())) {
        const mib = rssMiB(pid);
        if (mib === undefined) continue;
        const list = this.samples.get(name) ?? [];
        list.push(mib);
        this.samples.set(name, list);
      }
    }, everyMs);
  }

  stop(): Record<string, { samples: number; medianMiB: number; peakMiB: number }> {
    clearInterval(this.timer);
    return Object.fromEntries(
      [...this.samples].map(([name, list]) => {
        const sorted = [...list].sort((a, b) => a - b);
        return [
          name,
          {
            samples: list.length,
            medianMiB: round(sorted[Math.floor(sorted.length / 2)]),
            peakMiB: round(sorted[sorted.length - 1]),
          },
        ];
      }),
    );
  }
}

const round = (n: number, digits = 1): number => Number(n.toFixed(digits));
const iso = (ms: number): string => new Date(ms).toISOString();

async function graphql(
  url: string,
  query: string,
): Promise<{ data?: Record<string, unknown>; errors?: unknown[] }> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ query }),
  });
  return (await res.json()) as { data?: Record<string, unknown>; errors?: unknown[] };
}

/** What a dashboard asks: hourly and daily series, many keys at once, key lists, roll-up granularities. */
function dashboardQueries(
  keys: { projects: string[]; users: string[] },
  fromMs: number,
  toMs: number,
): string[] {
  const lastWeek = Math.max(fromMs, toMs - 7 * DAY_MS);
  const figures = 'busyKwh idleKwh totalKwh totalGco2eq';
  const project = keys.projects[0];
  return [
    `{ usageSeries(level: PROJECT, key: ${JSON.stringify(project)}, from: "${iso(lastWeek)}", to: "${iso(toMs)}", granularity: HOUR) {
        id buckets { start status usage { ${figures} } } total { ${figures} } } }`,
    `{ usageSeries(level: PROJECT, key: ${JSON.stringify(project)}, from: "${iso(fromMs)}", to: "${iso(toMs)}", granularity: DAY) {
        id buckets { start status failedHours usage { ${figures} } byMachine { machineName usage { totalKwh } } } } }`,
    `{ usageSeriesMany(level: USER, keys: ${JSON.stringify(keys.users.slice(0, 20))}, from: "${iso(fromMs)}", to: "${iso(toMs)}", granularity: DAY) {
        id key total { ${figures} } buckets { status usage { totalKwh } } } }`,
    `{ usageKeys(level: INSTANCE) }`,
    `{ usageSeries(level: MACHINE, key: "Artemis (Matlab)", from: "2025-01-01T00:00:00Z", to: "2026-01-01T00:00:00Z", granularity: MONTH) {
        id buckets { start status usage { ${figures} } } } }`,
  ];
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      instances: { type: 'string', default: '40' },
      days: { type: 'string', default: '28' },
      duration: { type: 'string', default: '30' },
      connections: { type: 'string', default: '8' },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    console.log(USAGE);
    return;
  }
  const spec = benchFleet(Number(values.instances), Number(values.days));
  const duration = Number(values.duration);
  const connections = Number(values.connections);
  const fromMs = spec.fromMs;
  const toMs = fleetToMs(spec);
  const midMs = fromMs + Math.floor(spec.days / 2) * DAY_MS;
  console.log(
    `carbonledger load: ${spec.instances} instances × ${spec.days} days; ${connections} connections for ${duration} s; ` +
      `${cpus().length} cores, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}`,
  );

  const backfill = await backfillFleet(spec, (line) => console.log(`  [fleet] ${line}`));
  const prometheus = await startBenchPrometheus(backfill.blocksDir);
  const work = await mkdtemp(join(tmpdir(), 'carbonledger-load-'));
  const registryFile = join(work, 'registry.json');
  await writeBenchRegistry(spec, registryFile);
  const port = await freePort();
  const configFile = join(work, 'config.json');
  await writeFile(
    configFile,
    JSON.stringify({
      prometheus: { url: prometheus.url, chunkHours: 24 },
      workspaces: { file: registryFile },
      store: { kind: 'json', dataDir: join(work, 'data') },
      server: { host: '127.0.0.1', port },
    }),
  );
  const url = `http://127.0.0.1:${port}/graphql`;
  const ingestArgs = (from: number, to: number) => [
    'ingest',
    '--from',
    iso(from),
    '--to',
    iso(to),
    '--config',
    configFile,
  ];

  let server: ChildProcess | undefined;
  let ingest: ChildProcess | undefined;
  try {
    let started = Date.now();
    const seeded = await exitOf(runCli(ingestArgs(fromMs, midMs), 'inherit'));
    console.log(
      `seeded the first ${(midMs - fromMs) / DAY_MS} days in ${((Date.now() - started) / 1000).toFixed(1)} s (exit ${seeded})`,
    );

    server = runCli(['serve', '--config', configFile, '--no-schedule']);
    for (let tries = 0; ; tries++) {
      const ready = await fetch(`http://127.0.0.1:${port}/readyz`).then(
        (r) => r.ok,
        () => false,
      );
      if (ready) break;
      if (tries > 200) throw new Error('the server did not become ready');
      await sleep(100);
    }
    const keysOf = async (level: string) =>
      ((await graphql(url, `{ usageKeys(level: ${level}) }`)).data?.usageKeys ?? []) as string[];
    const keys = { projects: await keysOf('PROJECT'), users: await keysOf('USER') };
    const queries = dashboardQueries(keys, fromMs, toMs);
    const requests = queries.map((query) => ({
      method: 'POST',
      path: '/graphql',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query }),
    }));

    const rss = new RssSampler();
    rss.start(() => ({ server: server?.pid, ingest: ingest?.exitCode === null ? ingest.pid : undefined }));
    const baseline = rssMiB(server.pid);

    // Ingestion during the load: the second half first (new files), then the whole range again.
    const ingests: Array<{ range: string; seconds: number; exit: number | null }> = [];
    let loading = true;
    const ingesting = (async () => {
      await sleep(1000);
      let range: [number, number] = [midMs, toMs];
      while (loading) {
        started = Date.now();
        ingest = runCli(ingestArgs(...range));
        const exit = await exitOf(ingest);
        ingests.push({
          range: `${iso(range[0]).slice(0, 10)}..${iso(range[1]).slice(0, 10)}`,
          seconds: round((Date.now() - started) / 1000),
          exit,
        });
        range = [fromMs, toMs];
      }
    })();

    // Alongside autocannon, one client reads every answer: HTTP status alone would not show a
    // GraphQL error in a 200 answer.
    const graphqlErrors = new Map<string, number>();
    let checked = 0;
    const checking = (async () => {
      for (let i = 0; loading; i++) {
        const body = await graphql(url, queries[i % queries.length]).catch((err: unknown) => ({
          errors: [{ extensions: { code: `fetch failed: ${(err as Error).message}` } }],
        }));
        checked++;
        for (const error of (body.errors ?? []) as Array<{ extensions?: { code?: string } }>) {
          const code = error.extensions?.code ?? 'no code';
          graphqlErrors.set(code, (graphqlErrors.get(code) ?? 0) + 1);
        }
      }
    })();

    const result = await autocannon({ url: `http://127.0.0.1:${port}`, connections, duration, requests });
    loading = false;
    await Promise.all([ingesting, checking]);
    const memory = rss.stop();

    const summary = {
      fleet: {
        instances: spec.instances,
        days: spec.days,
        keys: { projects: keys.projects.length, users: keys.users.length },
      },
      load: { connections, durationSeconds: duration, queries: queries.length },
      requests: { total: result.requests.total, perSecond: round(result.requests.average) },
      latencyMs: {
        average: round(result.latency.average),
        p50: result.latency.p50,
        p99: result.latency.p99,
        max: result.latency.max,
      },
      errors: {
        connection: result.errors,
        timeouts: result.timeouts,
        non2xx: result.non2xx,
        graphqlErrorsInCheckedAnswers: Object.fromEntries(graphqlErrors),
        checkedAnswers: checked,
      },
      ingestsDuringLoad: ingests,
      rssMiB: { serverBeforeLoad: baseline === undefined ? undefined : round(baseline), ...memory },
    };
    console.log(JSON.stringify(summary, null, 2));
  } finally {
    ingest?.kill('SIGTERM');
    server?.kill('SIGTERM');
    if (server) await exitOf(server);
    await prometheus.stop();
    await rm(work, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
