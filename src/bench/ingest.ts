import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { HOUR_MS } from '../domain/time';
import { cpuSecondsQueries, hourlyRange } from '../plugins/prometheus/promql';
import { benchVm, fleetToMs, writeBenchRegistry, type BenchFleetSpec } from './fleet';
import { BENCH_ROOT, queryRangeRequests } from './prometheus';

/** The config's default `chunkHours`. */
const CHUNK_HOURS = 24 * 7;

export interface IngestFigures {
  seconds: number;
  requests: number;
  maxRssMb?: number;
  cpuSeconds?: number;
  instanceHours?: number;
  failedHours?: number;
}

async function post(url: string, path: string, form: Record<string, string>): Promise<string> {
  const response = await fetch(`${url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
    body: new URLSearchParams(form).toString(),
  });
  const text = await response.text();
  if (!response.ok) throw new Error(`Prometheus answered ${response.status}: ${text.slice(0, 200)}`);
  return text;
}

/** The form of one query_range request, as sent. */
export type QueryRangeForm = Record<string, string>;

/** A request for the resource series beside CPU (contract section 8), not the CPU seconds themselves. */
export const asksResources = (form: QueryRangeForm): boolean => !/mode[=!]~/.test(form.query ?? '');

/** Requests in flight at once: the source's two chunks, each asking idle and busy side by side. */
const FLOOR_CONCURRENCY = 4;

/**
 * A year of query_range requests in fixed chunks of a week, as an ingestion of a small fleet
 * makes them: enough to warm Prometheus (page cache, chunk decoding) before anything is timed.
 */
export function warmUpRequests(spec: BenchFleetSpec): QueryRangeForm[] {
  const queries = cpuSecondsQueries(['idle'], '');
  const requests: QueryRangeForm[] = [];
  for (let from = spec.fromMs; from < fleetToMs(spec); from += CHUNK_HOURS * HOUR_MS) {
    const range = hourlyRange(from, Math.min(fleetToMs(spec), from + CHUNK_HOURS * HOUR_MS) - HOUR_MS);
    for (const query of [queries.idle, queries.busy]) {
      requests.push({ query, start: String(range.start), end: String(range.end), step: String(range.step) });
    }
  }
  return requests;
}

/**
 * The floor: the very query_range requests an ingestion made (recorded by the ingest worker),
 * with at least the concurrency it had, each answer read whole and discarded. What Prometheus
 * itself costs.
 */
export async function prometheusFloor(
  url: string,
  requests: readonly QueryRangeForm[],
): Promise<IngestFigures> {
  let next = 0;
  const started = process.hrtime.bigint();
  const worker = async (): Promise<void> => {
    while (next < requests.length) await post(url, '/api/v1/query_range', requests[next++]);
  };
  await Promise.all(Array.from({ length: FLOOR_CONCURRENCY }, worker));
  return { seconds: Number(process.hrtime.bigint() - started) / 1e9, requests: requests.length };
}

export interface SeedFigures extends IngestFigures {
  sampledHours: number;
  sampledRequests: number;
  sampledSeconds: number;
}

/**
 * The seed's method, one instant query per project per hour, one after another, timed on
 * `sampleHours` hours spread over the year and extrapolated to every hour.
 */
export async function seedMethod(
  url: string,
  spec: BenchFleetSpec,
  sampleHours: number,
): Promise<SeedFigures> {
  const projects = [...new Set(Array.from({ length: spec.instances }, (_, i) => benchVm(spec, i).project))];
  const hours = spec.days * 24;
  const step = Math.max(1, Math.floor(hours / sampleHours));
  let sampledRequests = 0;
  let sampled = 0;
  const started = process.hrtime.bigint();
  for (let h = 0; h < hours && sampled < sampleHours; h += step, sampled++) {
    const time = (spec.fromMs + (h + 1) * HOUR_MS) / 1000;
    for (const project of projects) {
      const query = `sum by (instance, mode) (increase(node_cpu_seconds_total{cloud_project_name="${project}"}[1h]))`;
      JSON.parse(await post(url, '/api/v1/query', { query, time: String(time) }));
      sampledRequests++;
    }
  }
  const sampledSeconds = Number(process.hrtime.bigint() - started) / 1e9;
  const requests = hours * projects.length;
  return {
    seconds: (sampledSeconds / sampledRequests) * requests,
    requests,
    sampledHours: sampled,
    sampledRequests,
    sampledSeconds,
  };
}

/**
 * The real ingestion of the whole fleet, in a child process, into a fresh JSON store (or the
 * PostgreSQL database at `databaseUrl`); with the query_range requests it made. `synthetic`: from
 * `benchFleetSource`, no Prometheus asked (`url` unused).
 */
export async function ingestFleet(
  url: string,
  spec: BenchFleetSpec,
  dataDir: string,
  registryFile: string,
  databaseUrl?: string,
  synthetic = false,
): Promise<IngestFigures & { asked: QueryRangeForm[] }> {
  const requestsFile = join(dirname(dataDir), 'requests.json');
  const before = synthetic ? 0 : await queryRangeRequests(url);
  const output = await new Promise<string>((resolve, reject) => {
    const child = spawn(
      process.execPath,
      [
        join(__dirname, 'ingest-worker.js'),
        url,
        registryFile,
        dataDir,
        new Date(spec.fromMs).toISOString(),
        new Date(fleetToMs(spec)).toISOString(),
        requestsFile,
        ...(databaseUrl ? [databaseUrl] : []),
      ],
      {
        stdio: ['ignore', 'pipe', 'inherit'],
        env: synthetic ? { ...process.env, BENCH_SYNTHETIC_FLEET: JSON.stringify(spec) } : process.env,
      },
    );
    let text = '';
    child.stdout.on('data', (chunk: Buffer) => (text += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) =>
      code === 0 ? resolve(text) : reject(new Error(`ingest worker exited ${code}`)),
    );
  });
  const requests = synthetic ? 0 : (await queryRangeRequests(url)) - before;
  const report = JSON.parse(output.trim().split('\n').pop()!);
  const asked = JSON.parse(await readFile(requestsFile, 'utf8')) as QueryRangeForm[];
  await rm(requestsFile);
  return { ...report, requests, asked };
}

export async function benchStoreDirs(): Promise<{
  dir: string;
  dataDir: string;
  registryFile: string;
  cleanup(): Promise<void>;
}> {
  const dir = await mkdtemp(join(BENCH_ROOT, `store-${process.pid}-`));
  return {
    dir,
    dataDir: join(dir, 'data'),
    registryFile: join(dir, 'workspaces.json'),
    cleanup: () => rm(dir, { recursive: true, force: true }),
  };
}

export { writeBenchRegistry };
