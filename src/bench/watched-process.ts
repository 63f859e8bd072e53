import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';

/**
 * Real servers (Prometheus, node_exporter) for the benches and the tests: each on a loopback port
 * the OS picked, each under a watchdog that stops it when this Node process goes, however it goes.
 */

/**
 * Arguments for a Prometheus serving backfilled history from `dataDir` on 127.0.0.1:`port`: no
 * retention limit, or it would delete the history it is there to serve.
 */
export function backfilledPrometheusArgs(configFile: string, dataDir: string, port: number): string[] {
  return [
    `--config.file=${configFile}`,
    `--storage.tsdb.path=${dataDir}`,
    '--storage.tsdb.retention.time=100y',
    `--web.listen-address=127.0.0.1:${port}`,
  ];
}

/** A port the OS says is free on 127.0.0.1 now; it may be taken before it is bound, so callers retry. */
export async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  server.close();
  await once(server, 'close');
  if (address === null || typeof address === 'string') throw new Error('no TCP port from the OS');
  return address.port;
}

/**
 * Runs the command under a shell that stops it when told (TERM/INT/HUP) and also when this Node
 * process is gone, within a second, even if it was killed with no chance to clean up.
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
export async function launchWatched(options: {
  command: string;
  args: readonly string[];
  port: number;
  readyPath: string;
  logFile: string;
  readyTimeoutMs: number;
}): Promise<WatchedProcess> {
  const { command, port, readyPath, logFile, readyTimeoutMs } = options;
  // Logging to a file, not a pipe, and unref(): a process a test forgot to stop never holds the
  // run open, and the exit hook above still stops it.
  const log = openSync(logFile, 'a');
  const child = spawn('sh', ['-c', WATCHDOG, `${command}-watchdog`, command, ...options.args], {
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
      // Unref'd so a forgotten process never holds this one open; waiting for its exit must.
      child.ref();
      child.kill('SIGTERM');
      await exited;
    }
  };

  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + readyTimeoutMs;
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
      throw new Error(`${command} was not ready within ${readyTimeoutMs} ms:\n${tail(logFile)}`);
    }
    await sleep(50);
  }
}

/** Launches on a free port; a port taken between asking and binding gets another try or two. */
export async function launchOnFreePort<T>(start: (port: number) => Promise<T>, attempts = 3): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await start(await freePort());
    } catch (err) {
      if (attempt < attempts && /address already in use/.test((err as Error).message)) continue;
      throw err;
    }
  }
}

/** Runs a tool to its end; rejects with its output when it exits non-zero. */
export function runTool(command: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) =>
      code === 0
        ? resolve(output)
        : reject(new Error(`${command} ${args.join(' ')} exited ${code}:\n${output}`)),
    );
  });
}

/** Sums the NUM SAMPLES column of promtool's block table. */
export function samplesInBlockReport(report: string): number {
  return report
    .split('\n')
    .filter((line) => /^[0-9A-Z]{26}\s/.test(line))
    .reduce((total, line) => total + Number(line.trim().split(/\s+/)[4]), 0);
}
