import { join } from 'node:path';
import pg from 'pg';
import { DAY_MS, HOUR_MS } from '../domain/time';
import { benchFleet, benchVm, fleetToMs, type BenchFleetSpec } from './fleet';
import { ingestFleet, type IngestFigures, type QueryRangeForm } from './ingest';
import { backfillFleet, startBenchPrometheus } from './prometheus';
import { ratio, seconds as s, verdict } from './format';

/** The server the PostgreSQL bench uses (a database of its own on it): BENCH_DATABASE_URL, else the machine's. */
const SERVER_URL = process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

/** A fresh, empty database for the fleet (dropped first if an earlier run left one); its URL. */
export async function freshBenchDatabase(spec: BenchFleetSpec): Promise<string> {
  const name = benchDatabaseName(spec);
  const client = new pg.Client({ connectionString: SERVER_URL });
  await client.connect();
  try {
    await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await client.query(`CREATE DATABASE ${name}`);
  } finally {
    await client.end();
  }
  return benchDatabaseUrl(spec);
}

/** The database an earlier `--store postgres` run filled for the fleet (for `--only api`). */
export async function existingBenchDatabase(spec: BenchFleetSpec): Promise<string> {
  const url = benchDatabaseUrl(spec);
  await databaseFigures(url).catch((err: Error) => {
    throw new Error(`no filled bench database at ${url} (run without --only api first): ${err.message}`);
  });
  return url;
}

function benchDatabaseUrl(spec: BenchFleetSpec): string {
  const url = new URL(SERVER_URL);
  url.pathname = `/${benchDatabaseName(spec)}`;
  return url.toString();
}

const benchDatabaseName = (spec: BenchFleetSpec): string =>
  `carbonledger_bench_${spec.instances}x${spec.days}`;

/** What the database holds after the ingestion: its size and its hour rows. */
export async function databaseFigures(url: string): Promise<{ megabytes: number; hourRows: number }> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const { rows } = await client.query<{ bytes: string; rows: string }>(
      `SELECT pg_database_size(current_database())::text AS bytes, (SELECT count(*) FROM usage_hour)::text AS rows`,
    );
    return { megabytes: Number(rows[0].bytes) / 2 ** 20, hourRows: Number(rows[0].rows) };
  } finally {
    await client.end();
  }
}

/** One project's VMs scraped every minute, as node_exporter is commonly scraped. */
const REALISTIC_SCRAPE_MS = 60_000;

export interface PromqlFigures {
  /** Samples a year of the project's series holds at this density. */
  samples: number;
  scrapeSeconds: number;
  days: number;
  /** Median of the runs, for `days` of hours. */
  seconds: number;
  /** `seconds` for a year: measured when `days` is a year, else scaled by days (the work is linear in samples). */
  yearSeconds: number;
  points: number;
}

/**
 * The question a year of hours answers, asked of Prometheus itself: `sum by (mode)(increase(…[1h]))`
 * over one project's VMs, step 1h, for `days` days, at a minute's scrape interval (a fleet of its
 * own, backfilled once and cached). Median of `runs`, after one warm-up.
 */
export async function promqlYearOfHours(
  days: number,
  runs = 5,
  progress: (line: string) => void = () => {},
): Promise<PromqlFigures> {
  const spec: BenchFleetSpec = { ...benchFleet(20, days), scrapeIntervalMs: REALISTIC_SCRAPE_MS };
  const backfill = await backfillFleet(spec, progress);
  const prometheus = await startBenchPrometheus(backfill.blocksDir);
  try {
    const project = benchVm(spec, 0).project;
    const form = new URLSearchParams({
      query: `sum by (mode) (increase(node_cpu_seconds_total{cloud_project_name="${project}"}[1h]))`,
      start: String((spec.fromMs + HOUR_MS) / 1000),
      end: String(fleetToMs(spec) / 1000),
      step: '3600',
    }).toString();
    const ask = async (): Promise<{ seconds: number; points: number }> => {
      const started = process.hrtime.bigint();
      const response = await fetch(`${prometheus.url}/api/v1/query_range`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: form,
      });
      const body = (await response.json()) as { data?: { result: Array<{ values: unknown[] }> } };
      if (!response.ok || body.data === undefined) throw new Error(`Prometheus answered ${response.status}`);
      const points = body.data.result.reduce((sum, series) => sum + series.values.length, 0);
      return { seconds: Number(process.hrtime.bigint() - started) / 1e9, points };
    };
    await ask();
    const measured: Array<{ seconds: number; points: number }> = [];
    for (let i = 0; i < runs; i++) measured.push(await ask());
    measured.sort((a, b) => a.seconds - b.seconds);
    const median = measured[Math.floor(runs / 2)];
    return {
      samples: backfill.samples,
      scrapeSeconds: REALISTIC_SCRAPE_MS / 1000,
      days,
      seconds: median.seconds,
      yearSeconds: (median.seconds * 365 * DAY_MS) / (days * DAY_MS),
      points: median.points,
    };
  } finally {
    await prometheus.stop();
  }
}

export interface PostgresIngest {
  url: string;
  ingest: IngestFigures & { asked: QueryRangeForm[] };
  stored: { megabytes: number; hourRows: number };
}

/** The fleet's ingestion from Prometheus into a fresh PostgreSQL database. */
export async function ingestIntoFreshDatabase(options: {
  prometheusUrl: string;
  spec: BenchFleetSpec;
  dir: string;
  registryFile: string;
}): Promise<PostgresIngest> {
  const url = await freshBenchDatabase(options.spec);
  const ingest = await ingestFleet(
    options.prometheusUrl,
    options.spec,
    join(options.dir, 'pg-data'),
    options.registryFile,
    url,
  );
  return { url, ingest, stored: await databaseFigures(url) };
}

/**
 * That ingestion beside the Prometheus floor measured in the same run and, where it ran, the JSON
 * store's figure.
 */
export function printPostgresIngest(
  { ingest, stored }: PostgresIngest,
  floorSeconds: number,
  json: IngestFigures | undefined,
): void {
  console.log('\nIngestion of the whole fleet into a fresh PostgreSQL database (same Prometheus, same run)');
  console.log(
    `  PostgreSQL store   ${s(ingest.seconds).padStart(9)}  peak RSS ${ingest.maxRssMb!.toFixed(0)} MB, ` +
      `CPU ${s(ingest.cpuSeconds!)} (the server's own CPU not counted), ${ingest.failedHours} failed hours; ` +
      `database ${stored.megabytes.toFixed(0)} MB, ${stored.hourRows.toLocaleString('en')} hour rows`,
  );
  console.log(
    json === undefined
      ? '  JSON store         not run (--no-json)'
      : `  JSON store         ${s(json.seconds).padStart(9)}  peak RSS ${json.maxRssMb!.toFixed(0)} MB`,
  );
  const vsFloor = ingest.seconds / floorSeconds;
  console.log(
    `  PostgreSQL / floor ${ratio(ingest.seconds, floorSeconds)}  (target ≤ 2×: ${verdict(vsFloor <= 2)})` +
      (json === undefined ? '' : `; JSON / floor ${ratio(json.seconds, floorSeconds)}`),
  );
  console.log(
    `  peak RSS           ${ingest.maxRssMb!.toFixed(0)} MB  (target < 300 MB: ${verdict(ingest.maxRssMb! < 300)})`,
  );
}

/** Prometheus asked the year-of-hours question itself, beside what carbonledger answers it from. */
export async function promqlBench(days: number): Promise<void> {
  const figures = await promqlYearOfHours(days, 5, (line) => console.log(`  [promql fleet] ${line}`));
  console.log(
    `\nThe same question asked of Prometheus: sum by (mode)(increase(node_cpu_seconds_total{project}[1h])), step 1h`,
  );
  console.log(
    `  20 VMs (one project, as the API bench's), scraped every ${figures.scrapeSeconds} s: ` +
      `${figures.samples.toLocaleString('en')} samples over ${figures.days} days`,
  );
  console.log(
    `  Prometheus         ${s(figures.seconds).padStart(9)}  median of 5, ${figures.points} points` +
      (figures.days === 365 ? '' : `; a year ≈ ${s(figures.yearSeconds)} (scaled by days)`),
  );
  console.log('  carbonledger answers it from its stored hours: see the year of hours above (p50, ms).');
}
