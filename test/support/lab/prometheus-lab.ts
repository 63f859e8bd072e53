import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { cp, mkdir, mkdtemp, readdir, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  backfilledPrometheusArgs,
  launchOnFreePort,
  launchWatched,
  runTool,
  samplesInBlockReport,
  type WatchedProcess,
} from '../../../src/bench/watched-process';
import { defaultFleet, writeRegistry, type FleetSpec } from './fleet';
import { writeOpenMetrics } from './openmetrics';

/** A real Prometheus serving a generated fleet's history, on a port the OS picked. */
export interface Lab {
  /** e.g. `http://127.0.0.1:41234`, no trailing slash. */
  url: string;
  spec: FleetSpec;
  /** The fleet's workspace registry (contract section 1). */
  registryFile: string;
  /** Prometheus's TSDB directory: a private copy of the backfilled blocks. */
  dataDir: string;
  /** Stops Prometheus and removes the lab's files. */
  stop(): Promise<void>;
  /** Stops the Prometheus process and keeps its data: requests are refused until `resume()`. */
  pause(): Promise<void>;
  /** Starts Prometheus again on the same port and data. */
  resume(): Promise<void>;
}

const LAB_ROOT = join(tmpdir(), 'carbonledger-lab');

/**
 * promtool 2.42's hidden `--max-block-duration`: it rounds down to a compaction range (2h × 3ⁿ);
 * 162h makes the default two-day fleet one block, so Prometheus has nothing to compact.
 */
const MAX_BLOCK_DURATION = '162h';

const READY_TIMEOUT_MS = 30_000;

/** The cache key: the spec and the generator's source, so a change to either makes new blocks. */
function cacheKey(spec: FleetSpec): string {
  const hash = createHash('sha256').update(JSON.stringify(spec));
  for (const module of ['./fleet', './openmetrics']) hash.update(readFileSync(require.resolve(module)));
  return hash.digest('hex').slice(0, 16);
}

const seconds = (fromMs: number, toMs: number): string => `${((toMs - fromMs) / 1000).toFixed(1)} s`;

/**
 * The spec's TSDB blocks, generated and backfilled once per spec into a cache shared by test files
 * and runs. Built in a private directory and renamed into place, so parallel workers never see half
 * a cache (when two race, both build and the later rename loses and is discarded).
 */
async function cachedBlocks(spec: FleetSpec): Promise<string> {
  const key = cacheKey(spec);
  const cacheDir = join(LAB_ROOT, `blocks-${key}`);
  if (existsSync(cacheDir)) return cacheDir;
  await mkdir(LAB_ROOT, { recursive: true });
  const buildDir = await mkdtemp(`${cacheDir}.building-`);
  try {
    const started = Date.now();
    const openMetricsFile = join(buildDir, 'fleet.om');
    const written = await writeOpenMetrics(spec, openMetricsFile);
    const generated = Date.now();
    const blocksDir = join(buildDir, 'blocks');
    const report = await runTool('promtool', [
      'tsdb',
      'create-blocks-from',
      'openmetrics',
      `--max-block-duration=${MAX_BLOCK_DURATION}`,
      openMetricsFile,
      blocksDir,
    ]);
    // promtool drops out-of-order samples without an error: count them back.
    const backfilled = samplesInBlockReport(report);
    if (backfilled !== written) {
      throw new Error(`promtool kept ${backfilled} of the ${written} samples written:\n${report}`);
    }
    console.log(
      `[lab] fleet ${key}: ${written} samples generated in ${seconds(started, generated)}, ` +
        `backfilled in ${seconds(generated, Date.now())}`,
    );
    await rename(blocksDir, cacheDir).catch((err: unknown) => {
      if (!existsSync(cacheDir)) throw err;
    });
  } finally {
    await rm(buildDir, { recursive: true, force: true });
  }
  return cacheDir;
}

const isAlive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
};

/** Removes the files of labs whose test process died before `stop()` (their Prometheus is gone too). */
async function removeAbandonedRuns(): Promise<void> {
  for (const name of await readdir(LAB_ROOT)) {
    const owner = /^run-(\d+)-/.exec(name)?.[1];
    if (owner !== undefined && !isAlive(Number(owner))) {
      await rm(join(LAB_ROOT, name), { recursive: true, force: true });
    }
  }
}

/**
 * Starts a Prometheus holding the fleet's history (default: `defaultFleet()`), with no scrape
 * targets, on 127.0.0.1 and a port the OS picked (never 9090, where a system Prometheus may run).
 */
export async function startLab(opts: { spec?: FleetSpec } = {}): Promise<Lab> {
  const spec = opts.spec ?? defaultFleet();
  const blocksDir = await cachedBlocks(spec);
  await removeAbandonedRuns();
  const labDir = await mkdtemp(join(LAB_ROOT, `run-${process.pid}-`));
  const dataDir = join(labDir, 'data');
  const configFile = join(labDir, 'prometheus.yml');
  const registryFile = join(labDir, 'workspaces.json');
  const logFile = join(labDir, 'prometheus.log');
  await cp(blocksDir, dataDir, { recursive: true });
  await writeFile(
    configFile,
    '# The lab serves backfilled history only: no scrape targets.\nscrape_configs: []\n',
  );
  await writeRegistry(spec, registryFile);

  const launch = (port: number): Promise<WatchedProcess> =>
    launchWatched({
      command: 'prometheus',
      args: [...backfilledPrometheusArgs(configFile, dataDir, port), '--web.enable-lifecycle'],
      port,
      readyPath: '/-/ready',
      logFile,
      readyTimeoutMs: READY_TIMEOUT_MS,
    });

  // The port is free when asked but may be taken before Prometheus binds it: then try another.
  let port = 0;
  let prometheus: WatchedProcess | undefined;
  try {
    prometheus = await launchOnFreePort((free) => {
      port = free;
      return launch(free);
    });
  } catch (err) {
    await rm(labDir, { recursive: true, force: true });
    throw err;
  }

  const pause = async (): Promise<void> => {
    await prometheus?.stop();
    prometheus = undefined;
  };
  return {
    url: `http://127.0.0.1:${port}`,
    spec,
    registryFile,
    dataDir,
    pause,
    resume: async () => {
      prometheus ??= await launch(port);
    },
    stop: async () => {
      await pause();
      await rm(labDir, { recursive: true, force: true });
    },
  };
}
