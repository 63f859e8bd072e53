import { spawn, type ChildProcess } from 'node:child_process';
import { resolve } from 'node:path';

const ROOT = resolve(__dirname, '../..');

/** What a measured process holds after a full garbage collection, in bytes. */
export interface MemoryAfterGc {
  rss: number;
  heapUsed: number;
  /** Buffers and other memory outside the V8 heap: what sockets hold of answers being written. */
  external: number;
  arrayBuffers: number;
}

export interface MeasuredProcess {
  child: ChildProcess;
  /** Everything it wrote on stderr so far. */
  stderr(): string;
  /** Collects its garbage and answers what it holds then. */
  memoryAfterGc(): Promise<MemoryAfterGc>;
  stop(): Promise<void>;
}

/**
 * Starts the built CLI (`dist/cli.js`) with `args`, able to collect its garbage on request
 * (gc-on-signal.js), and waits until stderr holds `ready`.
 */
export async function startMeasured(args: string[], cwd: string, ready: RegExp): Promise<MeasuredProcess> {
  const child = spawn(
    process.execPath,
    [
      '--expose-gc',
      '-r',
      resolve(ROOT, 'test/support/gc-on-signal.js'),
      resolve(ROOT, 'dist/cli.js'),
      ...args,
    ],
    { cwd, stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let stderr = '';
  const waiters: Array<() => void> = [];
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk;
    for (const wake of waiters.splice(0)) wake();
  });
  const exited = new Promise<void>((done) => child.once('exit', () => done()));
  const until = async (found: () => boolean): Promise<void> => {
    while (!found()) {
      if (child.exitCode !== null) throw new Error(`the process exited early:\n${stderr.slice(-2000)}`);
      await Promise.race([new Promise<void>((wake) => waiters.push(wake)), exited]);
    }
  };
  await until(() => ready.test(stderr));
  return {
    child,
    stderr: () => stderr,
    async memoryAfterGc() {
      const seen = stderr.length;
      child.kill('SIGUSR2');
      let line: string | undefined;
      await until(() => (line = /\{"memoryAfterGc":.*\}\n/.exec(stderr.slice(seen))?.[0]) !== undefined);
      return (JSON.parse(line!) as { memoryAfterGc: MemoryAfterGc }).memoryAfterGc;
    },
    async stop() {
      if (child.exitCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}
