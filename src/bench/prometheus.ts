import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fleetToMs, samplesBetween, writeOpenMetricsWindow, type BenchFleetSpec } from './fleet';
import {
  backfilledPrometheusArgs,
  launchOnFreePort,
  launchWatched,
  runTool,
  samplesInBlockReport,
} from './watched-process';

export const BENCH_ROOT = join(tmpdir(), 'carbonledger-bench');

/**
 * promtool's hidden `--max-block-duration` rounds down to a compaction range (2h × 3ⁿ). 486h is the
 * largest range Prometheus's compactor uses with a long retention (it caps blocks at 31 days), so
 * blocks of that size are left alone and the bench never races a compaction.
 */
const BLOCK_HOURS = 486;
const BLOCK_MS = BLOCK_HOURS * 3_600_000;
const READY_TIMEOUT_MS = 60_000;

export interface BackfillReport {
  blocksDir: string;
  samples: number;
  /** Null when the blocks came from the cache. */
  seconds: number | null;
}

/**
 * The fleet's TSDB blocks, built once per spec and cached under the OS temp dir. The data is
 * written one 486h block window at a time, each window's OpenMetrics file backfilled by promtool
 * while Node writes the next (so the two cores both work), and each file removed once done.
 */
export async function backfillFleet(
  spec: BenchFleetSpec,
  progress: (line: string) => void = () => {},
): Promise<BackfillReport> {
  const hash = createHash('sha256').update(JSON.stringify(spec));
  hash.update(readFileSync(require.resolve('./fleet')));
  const cacheDir = join(BENCH_ROOT, `blocks-${hash.digest('hex').slice(0, 16)}`);
  const toMs = fleetToMs(spec);
  const expected = samplesBetween(spec, spec.fromMs, toMs);
  if (existsSync(cacheDir)) return { blocksDir: cacheDir, samples: expected, seconds: null };
  await mkdir(BENCH_ROOT, { recursive: true });
  const buildDir = await mkdtemp(`${cacheDir}.building-`);
  const started = Date.now();
  try {
    const blocksDir = join(buildDir, 'blocks');
    const windows: Array<[number, number]> = [];
    for (let w = Math.floor(spec.fromMs / BLOCK_MS) * BLOCK_MS; w <= toMs; w += BLOCK_MS) {
      const from = Math.max(w, spec.fromMs);
      const last = Math.min(w + BLOCK_MS - spec.scrapeIntervalMs, toMs);
      if (from <= last) windows.push([from, last]);
    }
    let written = 0;
    let backfilled = 0;
    let promtool: Promise<void> = Promise.resolve();
    for (const [index, [from, last]] of windows.entries()) {
      const file = join(buildDir, `window-${index}.om`);
      written += await writeOpenMetricsWindow(spec, from, last, file);
      await promtool;
      promtool = runTool('promtool', [
        'tsdb',
        'create-blocks-from',
        'openmetrics',
        `--max-block-duration=${BLOCK_HOURS}h`,
        file,
        blocksDir,
      ]).then(async (report) => {
        backfilled += samplesInBlockReport(report);
        await rm(file);
        progress(`backfilled window ${index + 1}/${windows.length} (${backfilled} samples)`);
      });
    }
    await promtool;
    // promtool drops out-of-order samples without an error: count them back.
    if (backfilled !== written || written !== expected) {
      throw new Error(`promtool kept ${backfilled} of ${written} samples written (${expected} expected)`);
    }
    await rename(blocksDir, cacheDir);
    return { blocksDir: cacheDir, samples: written, seconds: (Date.now() - started) / 1000 };
  } finally {
    await rm(buildDir, { recursive: true, force: true });
  }
}

export interface BenchPrometheus {
  url: string;
  stop(): Promise<void>;
}

/** A Prometheus serving a private copy of the blocks, with no scrape targets, on a free loopback port. */
export async function startBenchPrometheus(blocksDir: string): Promise<BenchPrometheus> {
  await mkdir(BENCH_ROOT, { recursive: true });
  const runDir = await mkdtemp(join(BENCH_ROOT, `run-${process.pid}-`));
  const dataDir = join(runDir, 'data');
  const configFile = join(runDir, 'prometheus.yml');
  const logFile = join(runDir, 'prometheus.log');
  // Hard links: a year of blocks is gigabytes, and Prometheus never rewrites a block's files.
  await runTool('cp', ['-al', blocksDir, dataDir]);
  await writeFile(configFile, 'scrape_configs: []\n');
  try {
    const prometheus = await launchOnFreePort((port) =>
      launchWatched({
        command: 'prometheus',
        args: backfilledPrometheusArgs(configFile, dataDir, port),
        port,
        readyPath: '/-/ready',
        logFile,
        readyTimeoutMs: READY_TIMEOUT_MS,
      }),
    );
    return {
      url: prometheus.url,
      stop: async () => {
        await prometheus.stop();
        await rm(runDir, { recursive: true, force: true });
      },
    };
  } catch (err) {
    await rm(runDir, { recursive: true, force: true });
    throw err;
  }
}

/** Prometheus's own count of query_range requests served, from its /metrics. */
export async function queryRangeRequests(url: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  let total = 0;
  for (const line of text.split('\n')) {
    if (
      line.startsWith('prometheus_http_requests_total{') &&
      line.includes('handler="/api/v1/query_range"')
    ) {
      total += Number(line.slice(line.lastIndexOf(' ') + 1));
    }
  }
  return total;
}
