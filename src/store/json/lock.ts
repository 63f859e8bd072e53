import { randomBytes } from 'node:crypto';
import { promises as fsp, readFileSync } from 'node:fs';
import { hostname as osHostname } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { hasCode, processIsRunning, readTextIfExists, removeTemporaries, writeNewFile } from '../../fs/files';
import { errorFields, type Logger } from '../../log';
import { StoreLockedError } from '../store';

/**
 * One ingest at a time per data directory, across processes: `<dataDir>/ingest.lock`, created
 * atomically (a complete temp file hard-linked into place, which fails if the lock exists), holding
 * who took it. A lock whose holder is a dead process on this host is stale and is taken over.
 */

export const INGEST_LOCK_FILE = 'ingest.lock';
/** Serialises stale-lock takeovers, so two processes can never both remove and re-create the lock. */
const TAKEOVER_FILE = 'ingest.lock.takeover';
/** How long past its own deadline a caller waits for another process's takeover to finish. */
const TAKEOVER_WAIT_MS = 5_000;

export interface LockHolder {
  pid: number;
  hostname: string;
  /** ISO time the lock was taken. */
  startedAt: string;
  /** What it is for, e.g. `cli ingest` or `prometheus-ingest`. */
  purpose?: string;
  /** The holder's process start time in clock ticks since boot (Linux), so a reused pid is not mistaken for the holder. */
  procStart?: number;
  /** Random; tells this holder's lock from any later one. */
  token: string;
}

export interface IngestLockOptions {
  /** How long to keep trying while the lock is held; 0 (the default) fails at once. */
  waitMs?: number;
  /** Pause between tries while waiting. */
  pollMs?: number;
  purpose?: string;
  /** Gives up waiting (rejecting with the signal's reason). */
  signal?: AbortSignal;
  /** Injected for tests; defaults to this process and machine. */
  identity?: { pid: number; hostname: string };
  /** Whether a pid is alive on this host; injected for tests. */
  isAlive?: (pid: number, procStart?: number) => boolean;
  now?: () => number;
}

export interface HeldIngestLock {
  file: string;
  holder: LockHolder;
  /** Removes the lock if it is still this holder's. Safe to call twice. */
  release(): Promise<void>;
}

/** Linux: field 22 of /proc/<pid>/stat, the process start time in ticks since boot. */
export function processStartTicks(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may hold spaces and parentheses: count from the last ")".
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(fields[19]);
    return Number.isFinite(ticks) ? ticks : undefined;
  } catch {
    return undefined;
  }
}

/** True when `pid` runs on this host and, when known, started when the holder did (pids get reused). */
export function isProcessAlive(pid: number, procStart?: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
  } catch (err) {
    // EPERM: it exists but belongs to someone else.
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  if (procStart === undefined) return true;
  const current = processStartTicks(pid);
  return current === undefined || current === procStart;
}

function parseHolder(text: string): LockHolder | undefined {
  try {
    const value = JSON.parse(text) as Partial<LockHolder>;
    if (
      typeof value.pid === 'number' &&
      typeof value.hostname === 'string' &&
      typeof value.startedAt === 'string' &&
      typeof value.token === 'string'
    ) {
      return value as LockHolder;
    }
  } catch {
    // fall through
  }
  return undefined;
}

/**
 * The lock's own temporaries, `.ingest.lock.<pid>.<hex>.tmp` (and the takeover's): hidden, so
 * backups skip them, and named apart from the store's (`.<name>.<pid>-<hex>.tmp`), whose sweep
 * removes this process's own too and could take one from under a lock attempt of another plugin.
 */
const LOCK_TEMPORARY = /^\.ingest\.lock(?:\.takeover)?\.(\d+)\.[0-9a-f]{12}\.tmp$/;

/** Removes the lock temporaries of processes that no longer run (killed between write and link). */
export async function removeDeadWritersTemporaries(dataDir: string): Promise<void> {
  await removeTemporaries(dataDir, LOCK_TEMPORARY, (pid) => pid === process.pid || processIsRunning(pid));
}

/** Creates `file` holding `text` only if it does not exist; a reader never sees it half written. */
export async function createExclusive(file: string, text: string): Promise<boolean> {
  const temp = join(dirname(file), `.${basename(file)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
  // Removed however the write or the link ends.
  try {
    await writeNewFile(temp, text);
    try {
      await fsp.link(temp, file);
      return true;
    } catch (err) {
      if (hasCode(err, 'EEXIST')) return false;
      // Awaited here: returned un-awaited, its rejection would go unhandled while `finally` removes the temp.
      if (hasCode(err, ...NO_HARD_LINKS)) return await createExclusiveWithoutLink(file, text);
      throw err;
    }
  } finally {
    await fsp.rm(temp, { force: true });
  }
}

/** What `link` fails with on file systems without hard links (some network and FUSE mounts). */
const NO_HARD_LINKS = ['EPERM', 'ENOTSUP', 'EOPNOTSUPP', 'ENOSYS'];

/**
 * O_EXCL create, then write: still only one creator wins, but a reader may briefly see the file
 * empty; an unreadable lock counts as held (never stale), so that errs towards waiting.
 */
async function createExclusiveWithoutLink(file: string, text: string): Promise<boolean> {
  try {
    await writeNewFile(file, text);
    return true;
  } catch (err) {
    if (hasCode(err, 'EEXIST')) return false;
    throw err;
  }
}

const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve, reject) => {
    const timer = setTimeout(done, ms);
    function done() {
      signal?.removeEventListener('abort', aborted);
      resolve();
    }
    function aborted() {
      clearTimeout(timer);
      reject(signal!.reason);
    }
    signal?.addEventListener('abort', aborted, { once: true });
  });

/**
 * Takes the ingest lock of `dataDir`, or rejects with `StoreLockedError` naming the holder once
 * `waitMs` has passed. A lock left by a dead process on this host is taken over; one from another
 * host is never guessed stale (its pid cannot be checked from here): remove the file by hand.
 */
export async function acquireIngestLock(
  dataDir: string,
  log: Logger,
  options: IngestLockOptions = {},
): Promise<HeldIngestLock> {
  const file = join(dataDir, INGEST_LOCK_FILE);
  const takeoverFile = join(dataDir, TAKEOVER_FILE);
  const identity = options.identity ?? { pid: process.pid, hostname: osHostname() };
  const isAlive = options.isAlive ?? isProcessAlive;
  const now = options.now ?? Date.now;
  const waitMs = options.waitMs ?? 0;
  const pollMs = options.pollMs ?? 250;
  const deadline = now() + waitMs;
  let saidWaiting = false;
  await fsp.mkdir(dataDir, { recursive: true });
  await removeDeadWritersTemporaries(dataDir);

  const isStale = (holder: LockHolder | undefined): boolean =>
    holder !== undefined && holder.hostname === identity.hostname && !isAlive(holder.pid, holder.procStart);

  /**
   * Removes the lock if it still holds exactly `staleText`; only one process at a time may try.
   * False when another process is taking over right now.
   */
  async function takeOver(staleText: string): Promise<boolean> {
    const mutex: LockHolder = {
      pid: identity.pid,
      hostname: identity.hostname,
      startedAt: new Date(now()).toISOString(),
      procStart: identity.pid === process.pid ? processStartTicks(process.pid) : undefined,
      token: randomBytes(12).toString('hex'),
    };
    if (!(await createExclusive(takeoverFile, JSON.stringify(mutex)))) {
      // Another process is taking over now; or one crashed in that instant and left this behind.
      const text = await readTextIfExists(takeoverFile);
      if (text !== null && isStale(parseHolder(text)) && (await readTextIfExists(takeoverFile)) === text) {
        await fsp.rm(takeoverFile, { force: true });
        return true;
      }
      return false;
    }
    try {
      // Re-check under the mutex: the lock may have been released and taken afresh since it was read.
      if ((await readTextIfExists(file)) === staleText) {
        await fsp.rm(file, { force: true });
        log.warn('took over a stale ingest lock', { file, staleHolder: parseHolder(staleText) });
      }
    } finally {
      if ((await readTextIfExists(takeoverFile)) === JSON.stringify(mutex))
        await fsp.rm(takeoverFile, { force: true });
    }
    return true;
  }

  for (;;) {
    options.signal?.throwIfAborted();
    const holder: LockHolder = {
      pid: identity.pid,
      hostname: identity.hostname,
      startedAt: new Date(now()).toISOString(),
      ...(options.purpose === undefined ? {} : { purpose: options.purpose }),
      procStart: identity.pid === process.pid ? processStartTicks(process.pid) : undefined,
      token: randomBytes(12).toString('hex'),
    };
    const text = JSON.stringify(holder) + '\n';
    if (await createExclusive(file, text)) {
      let released = false;
      return {
        file,
        holder,
        async release() {
          if (released) return;
          released = true;
          // Only our own lock: never remove one a later holder took.
          if ((await readTextIfExists(file)) === text) await fsp.rm(file, { force: true });
          else log.warn('ingest lock was no longer ours at release', { file });
        },
      };
    }
    const heldText = await readTextIfExists(file);
    if (heldText === null) continue; // released between our try and our read
    const current = parseHolder(heldText);
    if (isStale(current)) {
      if (await takeOver(heldText)) continue;
      // Someone else is taking it over: it should be theirs in a moment; wait for that, not longer.
      if (now() >= deadline + TAKEOVER_WAIT_MS) throw new StoreLockedError(file, current);
      await sleep(Math.min(pollMs, 20), options.signal);
      continue;
    }
    if (now() >= deadline) {
      if (current && current.hostname !== identity.hostname) {
        log.warn('ingest lock is held from another host; if that process is gone, delete the file', {
          file,
          holder: current,
        });
      }
      throw new StoreLockedError(file, current);
    }
    if (!saidWaiting) {
      // Once, so a person at the terminal knows why nothing happens yet.
      log.info('waiting for the ingest lock', {
        file,
        holder: current,
        waitSeconds: Math.ceil((deadline - now()) / 1000),
      });
      saidWaiting = true;
    }
    await sleep(Math.min(pollMs, Math.max(1, deadline - now())), options.signal);
  }
}

/** `withIngestLock` if the lock is free (or stale) now; undefined, without running `fn`, if it is held. */
export async function withIngestLockIfFree<T>(
  dataDir: string,
  log: Logger,
  fn: (lock: HeldIngestLock) => Promise<T>,
  options: Omit<IngestLockOptions, 'waitMs'> = {},
): Promise<T | undefined> {
  let lock: HeldIngestLock;
  try {
    lock = await acquireIngestLock(dataDir, log, { ...options, waitMs: 0 });
  } catch (err) {
    if (err instanceof StoreLockedError) return undefined;
    throw err;
  }
  try {
    return await fn(lock);
  } finally {
    await releaseLogging(lock, log);
  }
}

/**
 * Runs `fn` holding the ingest lock of `dataDir` and releases it afterwards, whatever happens.
 * Rejects with `StoreLockedError` (and does not run `fn`) when another holder keeps it past `waitMs`.
 */
export async function withIngestLock<T>(
  dataDir: string,
  log: Logger,
  fn: (lock: HeldIngestLock) => Promise<T>,
  options: IngestLockOptions = {},
): Promise<T> {
  const lock = await acquireIngestLock(dataDir, log, options);
  try {
    return await fn(lock);
  } finally {
    await releaseLogging(lock, log);
  }
}

async function releaseLogging(lock: HeldIngestLock, log: Logger): Promise<void> {
  try {
    await lock.release();
  } catch (err) {
    log.error('could not release the ingest lock', { file: lock.file, ...errorFields(err) });
  }
}
