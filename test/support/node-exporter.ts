import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

/**
 * Real node_exporter and Prometheus processes for end-to-end tests: each on a loopback port the OS
 * picked, each under a watchdog that stops it when this test process goes, however it goes.
 */

const READY_TIMEOUT_MS = 15_000;
const PORT_ATTEMPTS = 3;

/** Debian's name for node_exporter (package prometheus-node-exporter). */
export const NODE_EXPORTER_BINARY = 'prometheus-node-exporter';

/**
 * Runs the command under a shell that stops it when told (TERM/INT/HUP) and also when this Node
 * process is gone, within a second, even if it was killed with no chance to clean up. (The same
 * watchdog as the Prometheus lab's.)
 */
const WATCHDOG = `
"$@" &
child=$!
trap 'kill -TERM "$child" 2>/dev/null; wait "$child"; exit' TERM INT HUP
while kill -0 "$PPID" 2>/dev/null && kill -0 "$child" 2>/dev/null; do
  sleep 1 </dev/null >/dev/null 2>&1 &
  wait $!
done
kill -TERM "$child" 2>/dev/null
wait "$child"
`;

/** Watchdogs still running, told to stop if this process exits without stopping them. */
const running = new Set<ChildProcess>();
process.on('exit', () => {
  for (const child of running) child.kill('SIGTERM');
});

async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  server.close();
  await once(server, 'close');
  if (address === null || typeof address === 'string') throw new Error('no TCP port from the OS');
  return address.port;
}

const tail = (file: string): string => readFileSync(file, 'utf8').slice(-4000);

export interface WatchedProcess {
  /** e.g. `http://127.0.0.1:41234`. */
  url: string;
  /** `127.0.0.1:<port>`, as a scrape target. */
  address: string;
  /** Stops the process (TERM) and waits for it; safe to call twice. */
  stop(): Promise<void>;
}

/** Spawns `command` under the watchdog and resolves once `readyPath` answers 200. */
async function launch(
  command: string,
  args: string[],
  port: number,
  readyPath: string,
  logFile: string,
): Promise<WatchedProcess> {
  // Logging to a file, not a pipe, and unref(): a process a test forgot to stop never holds the
  // run open, and the exit hook above still stops it.
  const log = openSync(logFile, 'a');
  const child = spawn('sh', ['-c', WATCHDOG, `${command}-watchdog`, command, ...args], {
    stdio: ['ignore', log, log],
  });
  closeSync(log);
  child.unref();
  running.add(child);
  let exitStatus: string | undefined;
  const exited = new Promise<void>((resolve) =>
    child.once('exit', (code, signal) => {
      exitStatus = signal ?? String(code);
      running.delete(child);
      resolve();
    }),
  );
  const stop = async (): Promise<void> => {
    if (exitStatus === undefined) {
      child.kill('SIGTERM');
      await exited;
    }
  };

  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + READY_TIMEOUT_MS;
  for (;;) {
    if (exitStatus !== undefined) {
      throw new Error(`${command} exited (${exitStatus}) before it was ready:\n${tail(logFile)}`);
    }
    const ready = await fetch(`${url}${readyPath}`, { signal: AbortSignal.timeout(1000) }).then(
      (response) => response.ok,
      () => false,
    );
    if (ready) return { url, address: `127.0.0.1:${port}`, stop };
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`${command} was not ready within ${READY_TIMEOUT_MS} ms:\n${tail(logFile)}`);
    }
    await sleep(50);
  }
}

/** Launches on a free port; a port taken between asking and binding gets another try. */
async function launchOnFreePort(start: (port: number) => Promise<WatchedProcess>): Promise<WatchedProcess> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await start(await freePort());
    } catch (err) {
      if (attempt < PORT_ATTEMPTS && /address already in use/.test((err as Error).message)) continue;
      throw err;
    }
  }
}

/**
 * node_exporter with only the collectors the poller reads: `cpu` (node_cpu_seconds_total) and
 * `stat` (node_boot_time_seconds, from /proc/stat's btime).
 */
export function startNodeExporter(dir: string): Promise<WatchedProcess> {
  return launchOnFreePort((port) =>
    launch(
      NODE_EXPORTER_BINARY,
      [
        `--web.listen-address=127.0.0.1:${port}`,
        '--collector.disable-defaults',
        '--collector.cpu',
        '--collector.stat',
      ],
      port,
      '/metrics',
      join(dir, 'node-exporter.log'),
    ),
  );
}

/** A Prometheus scraping as `prometheusYml` says, with its TSDB in `dir`. */
export async function startScrapingPrometheus(dir: string, prometheusYml: string): Promise<WatchedProcess> {
  const configFile = join(dir, 'prometheus.yml');
  await writeFile(configFile, prometheusYml);
  return launchOnFreePort((port) =>
    launch(
      'prometheus',
      [
        `--config.file=${configFile}`,
        `--storage.tsdb.path=${join(dir, 'data')}`,
        `--web.listen-address=127.0.0.1:${port}`,
      ],
      port,
      '/-/ready',
      join(dir, 'prometheus.log'),
    ),
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
