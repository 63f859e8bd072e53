import { spawn, spawnSync } from 'node:child_process';
import fs, {
  existsSync,
  mkdirSync,
  promises as fsp,
  readdirSync,
  readFileSync,
  writeFileSync,
} from 'node:fs';
import { hostname } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { transformFileSync } from '@swc/core';
import {
  acquireIngestLock,
  INGEST_LOCK_FILE,
  isProcessAlive,
  processStartTicks,
  withIngestLock,
  type LockHolder,
} from '../../../../src/store/json/lock';
import { silentLogger, type Logger } from '../../../../src/log';
import { tempDirs } from '../../../support/fake-ingest';
import { removeStaleTemporaries } from '../../../../src/fs/files';
import { StoreLockedError } from '../../../../src/store/store';

const dirs = tempDirs('cl-lock-');
afterEach(() => dirs.cleanup());

function recordingLogger(): Logger & { lines: Array<{ msg: string; fields?: Record<string, unknown> }> } {
  const lines: Array<{ msg: string; fields?: Record<string, unknown> }> = [];
  const log = {
    lines,
    info: (msg: string, fields?: Record<string, unknown>) => lines.push({ msg, fields }),
    warn: (msg: string, fields?: Record<string, unknown>) => lines.push({ msg, fields }),
    error: (msg: string, fields?: Record<string, unknown>) => lines.push({ msg, fields }),
    child: () => log,
  };
  return log;
}

/** The pid of a process that has run and exited. */
function deadPid(): number {
  const child = spawnSync(process.execPath, ['-e', '']);
  expect(child.status).toBe(0);
  expect(isProcessAlive(child.pid!)).toBe(false);
  return child.pid!;
}

function writeLock(dataDir: string, holder: Partial<LockHolder>): void {
  writeFileSync(
    join(dataDir, INGEST_LOCK_FILE),
    JSON.stringify({ startedAt: '2025-09-20T00:00:00.000Z', token: 'old', ...holder }),
  );
}

const readHolder = (dataDir: string): LockHolder =>
  JSON.parse(readFileSync(join(dataDir, INGEST_LOCK_FILE), 'utf8')) as LockHolder;

describe('the ingest lock', () => {
  it('holds pid, hostname and startedAt; a second holder is refused by name; release frees it', async () => {
    const dataDir = dirs.make();
    const first = await acquireIngestLock(dataDir, silentLogger, { purpose: 'cli ingest' });
    expect(readHolder(dataDir)).toMatchObject({
      pid: process.pid,
      hostname: hostname(),
      purpose: 'cli ingest',
      startedAt: expect.stringMatching(/^\d{4}-\d{2}-\d{2}T/),
    });
    const refused = acquireIngestLock(dataDir, silentLogger);
    await expect(refused).rejects.toBeInstanceOf(StoreLockedError);
    await expect(refused).rejects.toThrow(
      `ingestion is locked: ${join(dataDir, INGEST_LOCK_FILE)} is held by pid ${process.pid} on ${hostname()} (cli ingest)`,
    );
    await first.release();
    expect(existsSync(join(dataDir, INGEST_LOCK_FILE))).toBe(false);
    const second = await acquireIngestLock(dataDir, silentLogger);
    await second.release();
    // No temp or takeover files left behind.
    expect(readdirSync(dataDir)).toEqual([]);
  });

  it('withIngestLock releases when the work throws, and does not run the work when refused', async () => {
    const dataDir = dirs.make();
    await expect(
      withIngestLock(dataDir, silentLogger, async () => {
        throw new Error('boom');
      }),
    ).rejects.toThrow('boom');
    expect(existsSync(join(dataDir, INGEST_LOCK_FILE))).toBe(false);

    let ran = false;
    await withIngestLock(dataDir, silentLogger, async () => {
      await expect(
        withIngestLock(dataDir, silentLogger, async () => {
          ran = true;
        }),
      ).rejects.toBeInstanceOf(StoreLockedError);
    });
    expect(ran).toBe(false);
  });

  it('waits up to waitMs for the holder to let go, saying once that it waits and for whom', async () => {
    const dataDir = dirs.make();
    const first = await acquireIngestLock(dataDir, silentLogger, { purpose: 'cli ingest' });
    const log = recordingLogger();
    // The holder lets go once the waiter has said it waits, after it has looked a few more times
    // (every 5 ms): on a busy machine its first look may come later than any fixed delay.
    const info = log.info;
    log.info = (msg, fields) => {
      if (msg === 'waiting for the ingest lock') setTimeout(() => void first.release(), 50);
      return info(msg, fields);
    };
    const second = await acquireIngestLock(dataDir, log, { waitMs: 60_000, pollMs: 5 });
    expect(readHolder(dataDir).token).toBe(second.holder.token);
    expect(log.lines.filter((line) => line.msg === 'waiting for the ingest lock')).toEqual([
      {
        msg: 'waiting for the ingest lock',
        fields: expect.objectContaining({ holder: expect.objectContaining({ purpose: 'cli ingest' }) }),
      },
    ]);
    await second.release();
  });

  it('stops waiting when its signal aborts', async () => {
    const dataDir = dirs.make();
    const first = await acquireIngestLock(dataDir, silentLogger);
    const controller = new AbortController();
    const waiting = acquireIngestLock(dataDir, silentLogger, {
      waitMs: 60_000,
      pollMs: 5,
      signal: controller.signal,
    });
    controller.abort(new Error('shutting down'));
    await expect(waiting).rejects.toThrow('shutting down');
    await first.release();
  });

  it('takes over a lock left by a dead process on this host', async () => {
    const dataDir = dirs.make();
    const pid = deadPid();
    writeLock(dataDir, { pid, hostname: hostname(), purpose: 'crashed ingest' });
    const log = recordingLogger();
    const lock = await acquireIngestLock(dataDir, log);
    expect(readHolder(dataDir)).toMatchObject({ pid: process.pid, token: lock.holder.token });
    expect(log.lines).toEqual([
      expect.objectContaining({
        msg: 'took over a stale ingest lock',
        fields: expect.objectContaining({ staleHolder: expect.objectContaining({ pid }) }),
      }),
    ]);
    await lock.release();
    expect(readdirSync(dataDir)).toEqual([]);
  });

  const linux = processStartTicks(process.pid) === undefined ? it.skip : it;
  linux('takes over a lock whose pid now belongs to another process (pid reused)', async () => {
    const dataDir = dirs.make();
    writeLock(dataDir, {
      pid: process.pid,
      hostname: hostname(),
      procStart: processStartTicks(process.pid)! - 1,
    });
    const lock = await acquireIngestLock(dataDir, silentLogger);
    expect(readHolder(dataDir).token).toBe(lock.holder.token);
    await lock.release();
  });

  it('never guesses that a lock from another host is stale', async () => {
    const dataDir = dirs.make();
    writeLock(dataDir, { pid: deadPid(), hostname: 'elsewhere.example' });
    await expect(acquireIngestLock(dataDir, silentLogger)).rejects.toThrow(
      /held by pid \d+ on elsewhere\.example/,
    );
    expect(readHolder(dataDir).token).toBe('old');
  });

  it('works where hard links are not allowed, by O_EXCL create alone', async () => {
    const dataDir = dirs.make();
    const noLinks = jest
      .spyOn(fsp, 'link')
      .mockRejectedValue(Object.assign(new Error('operation not permitted'), { code: 'EPERM' }));
    try {
      const first = await acquireIngestLock(dataDir, silentLogger);
      expect(readHolder(dataDir).token).toBe(first.holder.token);
      await expect(acquireIngestLock(dataDir, silentLogger)).rejects.toBeInstanceOf(StoreLockedError);
      await first.release();
      expect(readdirSync(dataDir)).toEqual([]);
    } finally {
      noLinks.mockRestore();
    }
  });

  it('leaves no temporary file and no lock when writing the lock fails', async () => {
    const dataDir = dirs.make();
    const failingSync = jest
      .spyOn(fs, 'fsync')
      .mockImplementation((_fd, callback) =>
        callback(Object.assign(new Error('i/o error'), { code: 'EIO' })),
      );
    try {
      await expect(acquireIngestLock(dataDir, silentLogger)).rejects.toThrow('i/o error');
      expect(readdirSync(dataDir)).toEqual([]);
    } finally {
      failingSync.mockRestore();
    }
  });

  it('where hard links are not allowed, leaves no lock behind when writing it fails', async () => {
    const dataDir = dirs.make();
    const noLinks = jest
      .spyOn(fsp, 'link')
      .mockRejectedValue(Object.assign(new Error('operation not permitted'), { code: 'EPERM' }));
    // The temporary file's sync succeeds; the lock file's own, written by O_EXCL create, fails.
    const realFsync = fs.fsync;
    let syncs = 0;
    const failingSync = jest.spyOn(fs, 'fsync').mockImplementation((fd, callback) => {
      if (++syncs === 1) return realFsync(fd, callback);
      callback(Object.assign(new Error('no space'), { code: 'ENOSPC' }));
    });
    try {
      await expect(acquireIngestLock(dataDir, silentLogger)).rejects.toThrow('no space');
      expect(noLinks).toHaveBeenCalled();
      expect(syncs).toBe(2);
      // An empty or half-written lock would count as held for good.
      expect(readdirSync(dataDir)).toEqual([]);
    } finally {
      failingSync.mockRestore();
      noLinks.mockRestore();
    }
  });

  it("removes the temporary a killed taker left (between writing and linking), never a live one's", async () => {
    const dataDir = dirs.make();
    const dead = `.ingest.lock.${deadPid()}.0123456789ab.tmp`;
    const alive = `.ingest.lock.${process.ppid}.0123456789ab.tmp`;
    writeFileSync(join(dataDir, dead), '{}');
    writeFileSync(join(dataDir, alive), '{}');
    const lock = await acquireIngestLock(dataDir, silentLogger);
    expect(readdirSync(dataDir).sort()).toEqual([alive, INGEST_LOCK_FILE].sort());
    await lock.release();
  });

  it('names its temporaries apart from the store sweep, which removes this process’s own', async () => {
    const dataDir = dirs.make();
    const temporaries: string[] = [];
    const realLink = fsp.link;
    const linking = jest.spyOn(fsp, 'link').mockImplementation(async (from, to) => {
      temporaries.push(String(from));
      // While the lock is being taken, another plugin of this process sweeps the directory.
      expect(await removeStaleTemporaries(dataDir)).toBe(0);
      return realLink(from, to);
    });
    try {
      const lock = await acquireIngestLock(dataDir, silentLogger);
      expect(temporaries).toHaveLength(1);
      await lock.release();
    } finally {
      linking.mockRestore();
    }
  });

  it('refuses, without removing it, a lock file that does not say who holds it', async () => {
    const dataDir = dirs.make();
    writeFileSync(join(dataDir, INGEST_LOCK_FILE), 'garbage');
    await expect(acquireIngestLock(dataDir, silentLogger)).rejects.toThrow('does not say who holds it');
    expect(readFileSync(join(dataDir, INGEST_LOCK_FILE), 'utf8')).toBe('garbage');
  });
});

/**
 * Two real processes racing for one lock. Each child takes the lock when told `go` on stdin, says
 * `won <pid>` or `locked <message>`, and (if it won) holds the lock until stdin closes.
 */
describe('two processes sharing one dataDir', () => {
  // Compiled here rather than taken from dist/, which other test runs in this checkout may be rewriting.
  const compiled = tempDirs('cl-lock-compiled-');
  const compiledDir = compiled.make();
  afterAll(() => compiled.cleanup());
  const compiledLock = join(compiledDir, 'store', 'json', 'lock.js');
  const childScript = `
    const { acquireIngestLock } = require(${JSON.stringify(compiledLock)});
    const log = { info() {}, warn() {}, error() {}, child() { return log; } };
    const lines = require('node:readline').createInterface({ input: process.stdin });
    process.stdout.write('ready\\n');
    lines.once('line', async () => {
      try {
        const lock = await acquireIngestLock(process.argv[1], log, { purpose: 'race' });
        process.stdout.write('won ' + process.pid + '\\n');
        lines.once('close', async () => { await lock.release(); process.exit(0); });
      } catch (err) {
        process.stdout.write('locked ' + err.message + '\\n');
        process.exit(err.name === 'StoreLockedError' ? 0 : 1);
      }
    });
  `;

  async function race(dataDir: string): Promise<string[]> {
    const children = [0, 1].map(() =>
      spawn(process.execPath, ['-e', childScript, dataDir], { stdio: ['pipe', 'pipe', 'inherit'] }),
    );
    const readers = children.map((child) => createInterface({ input: child.stdout })[Symbol.asyncIterator]());
    const nextLine = async (i: number) => String((await readers[i].next()).value);
    expect(await Promise.all([nextLine(0), nextLine(1)])).toEqual(['ready', 'ready']);
    // Both are waiting on stdin; let them go together.
    for (const child of children) child.stdin.write('go\n');
    const answers = await Promise.all([nextLine(0), nextLine(1)]);
    // Only now may the winner let go: both have tried while it held the lock.
    const exits = children.map((child) => new Promise((done) => child.once('exit', done)));
    for (const child of children) child.stdin.end();
    expect(await Promise.all(exits)).toEqual([0, 0]);
    return answers;
  }

  beforeAll(() => {
    const src = resolve(__dirname, '../../../../src');
    for (const file of [
      'log.ts',
      'domain/redact.ts',
      'fs/files.ts',
      'store/store.ts',
      'store/json/lock.ts',
    ]) {
      const { code } = transformFileSync(join(src, file), {
        jsc: { target: 'es2022', parser: { syntax: 'typescript' } },
        module: { type: 'commonjs' },
      });
      mkdirSync(dirname(join(compiledDir, file)), { recursive: true });
      writeFileSync(join(compiledDir, file.replace(/\.ts$/, '.js')), code);
    }
  });

  it('only one of two processes taking a free lock at once wins; the other is told who holds it', async () => {
    const dataDir = dirs.make();
    const answers = await race(dataDir);
    const won = answers.filter((a) => a.startsWith('won '));
    const locked = answers.filter((a) => a.startsWith('locked '));
    expect([won.length, locked.length]).toEqual([1, 1]);
    expect(locked[0]).toContain(`held by pid ${won[0].slice(4)} on ${hostname()} (race)`);
    expect(readdirSync(dataDir)).toEqual([]);
  });

  it('only one of two processes taking over the same stale lock at once wins', async () => {
    const dataDir = dirs.make();
    writeLock(dataDir, { pid: deadPid(), hostname: hostname() });
    const answers = await race(dataDir);
    expect(answers.filter((a) => a.startsWith('won '))).toHaveLength(1);
    expect(answers.filter((a) => a.startsWith('locked '))).toHaveLength(1);
    expect(readdirSync(dataDir)).toEqual([]);
  });
});
