import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';

import { launchOnFreePort, launchWatched, type WatchedProcess } from '../../src/bench/watched-process';

export type { WatchedProcess };

/** Real node_exporter and Prometheus processes for end-to-end tests (see watched-process.ts). */

const READY_TIMEOUT_MS = 15_000;

/** Debian's name for node_exporter (package prometheus-node-exporter). */
export const NODE_EXPORTER_BINARY = 'prometheus-node-exporter';

/**
 * node_exporter with only the collectors the poller reads: `cpu` (node_cpu_seconds_total) and
 * `stat` (node_boot_time_seconds, from /proc/stat's btime).
 */
export function startNodeExporter(dir: string): Promise<WatchedProcess> {
  return launchOnFreePort((port) =>
    launchWatched({
      command: NODE_EXPORTER_BINARY,
      args: [
        `--web.listen-address=127.0.0.1:${port}`,
        '--collector.disable-defaults',
        '--collector.cpu',
        '--collector.stat',
      ],
      port,
      readyPath: '/metrics',
      logFile: join(dir, 'node-exporter.log'),
      readyTimeoutMs: READY_TIMEOUT_MS,
    }),
  );
}

/** A Prometheus scraping as `prometheusYml` says, with its TSDB in `dir`. */
export async function startScrapingPrometheus(dir: string, prometheusYml: string): Promise<WatchedProcess> {
  const configFile = join(dir, 'prometheus.yml');
  await writeFile(configFile, prometheusYml);
  return launchOnFreePort((port) =>
    launchWatched({
      command: 'prometheus',
      args: [
        `--config.file=${configFile}`,
        `--storage.tsdb.path=${join(dir, 'data')}`,
        `--web.listen-address=127.0.0.1:${port}`,
      ],
      port,
      readyPath: '/-/ready',
      logFile: join(dir, 'prometheus.log'),
      readyTimeoutMs: READY_TIMEOUT_MS,
    }),
  );
}

/** What node_exporter's /metrics says of the CPUs, read the way the poller reads Prometheus. */
export interface CpuCounters {
  /** CPU seconds since boot in mode `idle`, summed over CPUs. */
  idleCpuSeconds: number;
  /** CPU seconds since boot in every other mode. */
  busyCpuSeconds: number;
  cpus: number;
  /** node_boot_time_seconds. */
  bootTimeSeconds: number;
}

/** Parses node_exporter's text exposition (`name{labels} value` lines). */
export function cpuCountersOf(exposition: string): CpuCounters {
  const counters: CpuCounters = { idleCpuSeconds: 0, busyCpuSeconds: 0, cpus: 0, bootTimeSeconds: NaN };
  const cpus = new Set<string>();
  for (const line of exposition.split('\n')) {
    const cpu = /^node_cpu_seconds_total\{cpu="([^"]+)",mode="([^"]+)"\} (\S+)$/.exec(line);
    if (cpu) {
      cpus.add(cpu[1]);
      if (cpu[2] === 'idle') counters.idleCpuSeconds += Number(cpu[3]);
      else counters.busyCpuSeconds += Number(cpu[3]);
    }
    const boot = /^node_boot_time_seconds (\S+)$/.exec(line);
    if (boot) counters.bootTimeSeconds = Number(boot[1]);
  }
  counters.cpus = cpus.size;
  return counters;
}

export async function readCpuCounters(nodeExporter: WatchedProcess): Promise<CpuCounters> {
  const response = await fetch(`${nodeExporter.url}/metrics`);
  if (!response.ok) throw new Error(`node_exporter answered HTTP ${response.status}`);
  return cpuCountersOf(await response.text());
}
