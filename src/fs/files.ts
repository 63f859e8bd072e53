import { randomBytes } from 'node:crypto';
import {
  closeSync,
  existsSync,
  fsync,
  mkdirSync,
  open as openCb,
  readFile as readFileCb,
  rename as renameCb,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { readdir, rm, rmdir } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

/** Structural, not `instanceof`: errors from Node's own realm fail that test under some runners (jest). */
export function hasCode(err: unknown, ...codes: string[]): boolean {
  const code = typeof err === 'object' && err !== null ? (err as NodeJS.ErrnoException).code : undefined;
  return code !== undefined && codes.includes(code);
}

/** `readTextIfExists`, with a missing file told by a stat rather than a failed open (an exception). */
export async function readTextIfPresent(path: string): Promise<string | null> {
  // Any other failure of the stat is left to the read to report.
  return statSync(path, { throwIfNoEntry: false }) === undefined ? null : readTextIfExists(path);
}

export async function readTextIfExists(path: string): Promise<string | null> {
  try {
    return await readText(path);
  } catch (err) {
    if (hasCode(err, 'ENOENT')) return null;
    throw err;
  }
}

/**
 * Writes through a temporary file in the same directory, synced before the rename, so a reader
 * sees the old file or the new one and a crash leaves one of them whole.
 */
export async function writeFileAtomic(path: string, text: string): Promise<void> {
  await writeThroughTemporary(path, text, new Set());
}

/**
 * `.<name>.<pid>-<random>.tmp`: hidden, so no listing of store files matches it, and naming the
 * writing process, so a temporary file left by a writer that was killed can be told from one being
 * written right now.
 */
function temporaryName(name: string): string {
  temporaries = (temporaries + 1) % 0x1000000;
  return `.${name}.${process.pid}-${TEMPORARY_PREFIX}${temporaries.toString(16).padStart(6, '0')}.tmp`;
}

/** A temporary path beside `path`, named so that `removeStaleTemporaries` finds it once its writer is gone. */
function temporaryPathFor(path: string): string {
  return join(dirname(path), temporaryName(basename(path)));
}

/** Random per process, then a count: unique among this process's files without a random draw each. */
const TEMPORARY_PREFIX = randomBytes(3).toString('hex');
let temporaries = 0;

const TEMPORARY = /^\..+\.(\d+)-[0-9a-f]{12}\.tmp$/;

/** Whether process `pid` runs on this machine (signal 0 checks without signalling). */
export function processIsRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: it runs, as another user.
    return !hasCode(err, 'ESRCH');
  }
}

/**
 * Removes the temporary files in `dir` that a writer killed mid-write (kill -9, power loss) left
 * behind: those of processes no longer running, and this process's own, so the caller must be the
 * only writer of this process at the time. Another live process's files are left alone: it may be
 * writing them now. Returns how many went.
 */
export async function removeStaleTemporaries(
  dir: string,
  isRunning: (pid: number) => boolean = processIsRunning,
): Promise<number> {
  return removeTemporaries(dir, TEMPORARY, (pid) => pid !== process.pid && isRunning(pid));
}

/**
 * Removes the files in `dir` whose name `pattern` matches, its first group the writer's pid,
 * unless `keep(pid)`. Returns how many went.
 */
export async function removeTemporaries(
  dir: string,
  pattern: RegExp,
  keep: (pid: number) => boolean,
): Promise<number> {
  let removed = 0;
  for (const name of await listNames(dir, 'file')) {
    const pid = pattern.exec(name)?.[1];
    if (pid === undefined || keep(Number(pid))) continue;
    await rm(join(dir, name), { force: true });
    removed++;
  }
  return removed;
}

/** Writes `text`, or removes the file when `text` is null. */
export async function putFile(path: string, text: string | null): Promise<void> {
  if (text === null) await rm(path, { force: true });
  else await writeFileAtomic(path, text);
}

// The callback API for every read and write of the store: no FileHandle to create and track, one
// trip through the thread pool each. A bench run once hung for good on an `fs/promises` FileHandle
// close that never completed while the thread pool sat idle (cause not found).
export const readText = (path: string): Promise<string> =>
  new Promise((resolve, reject) =>
    readFileCb(path, 'utf8', (err, text) => (err ? reject(err) : resolve(text))),
  );
const fsyncFd = (fd: number): Promise<void> =>
  new Promise((resolve, reject) => fsync(fd, (err) => (err ? reject(err) : resolve())));
const openFile = (path: string, flags: string): Promise<number> =>
  new Promise((resolve, reject) => openCb(path, flags, (err, fd) => (err ? reject(err) : resolve(fd))));
const renameFile = (from: string, to: string): Promise<void> =>
  new Promise((resolve, reject) => renameCb(from, to, (err) => (err ? reject(err) : resolve())));

/** Opens a new file, creating its directory if need be (the parents of what it creates go into `parents`). */
async function openCreatingDir(path: string, parents: Set<string>): Promise<number> {
  try {
    return await openFile(path, 'wx');
  } catch (err) {
    if (!hasCode(err, 'ENOENT')) throw err;
    const first = mkdirSync(dirname(path), { recursive: true });
    // Each new directory is an entry in its parent, made durable like a rename.
    if (first !== undefined) {
      for (let dir = dirname(path); dir.length >= first.length; dir = dirname(dir)) parents.add(dirname(dir));
    }
    return await openFile(path, 'wx');
  }
}

async function writeSyncAndClose(fd: number, text: string): Promise<void> {
  try {
    writeFileSync(fd, text, 'utf8');
    await fsyncFd(fd);
  } finally {
    closeSync(fd);
  }
}

/**
 * Creates `path` holding `text`, synced; fails with EEXIST when it exists. Not atomic (see
 * `writeFileAtomic`), but a file whose write or sync failed is removed, not left half written.
 */
export async function writeNewFile(path: string, text: string): Promise<void> {
  const fd = await openFile(path, 'wx');
  try {
    await writeSyncAndClose(fd, text);
  } catch (err) {
    rmSync(path, { force: true });
    throw err;
  }
}

/**
 * `writeFileAtomic`; directories it creates have their parents added to `parents` (their entries
 * need a sync to survive power loss).
 */
async function writeThroughTemporary(path: string, text: string, parents: Set<string>): Promise<void> {
  const temporary = temporaryPathFor(path);
  const fd = await openCreatingDir(temporary, parents);
  try {
    await writeSyncAndClose(fd, text);
    await renameFile(temporary, path);
  } catch (err) {
    rmSync(temporary, { force: true });
    throw err;
  }
}

/**
 * `putFile` for many files, each as atomic as `writeFileAtomic` (a temporary file in the same
 * directory, synced before it is renamed over the file), with fewer trips through the thread pool:
 * the open (which may wait on the filesystem's journal while other files sync), the fsync and the
 * rename go there; the write to the page cache and the close stay on this thread.
 * The renames and removals are made durable against power loss by syncing each directory once:
 * here, or, when `dirs` is given, by the caller (`syncDirs`) once it has put all of a batch's files.
 * Nothing is guaranteed about the order in which the files change. On failure the file being
 * written keeps its old text and no temporary file is left; files put before it may have changed.
 */
export async function putFiles(
  files: ReadonlyArray<{ path: string; text: string | null }>,
  concurrency: number,
  dirs?: Set<string>,
): Promise<void> {
  const touched = dirs ?? new Set<string>();
  await mapLimit(files, concurrency, async ({ path, text }) => {
    touched.add(dirname(path));
    if (text === null) {
      rmSync(path, { force: true });
      return;
    }
    await writeThroughTemporary(path, text, touched);
  });
  if (dirs === undefined) await syncDirs(touched, concurrency);
}

/** `syncDir` of each of `dirs` that still exists (a removal may have emptied one, and it gone). */
export async function syncDirs(dirs: ReadonlySet<string>, concurrency: number): Promise<void> {
  await mapLimit([...dirs], concurrency, async (dir) => {
    if (existsSync(dir)) await syncDir(dir);
  });
}

/** Makes renames in `dir` durable: a journal must be on disk before the files it protects change. */
export async function syncDir(dir: string): Promise<void> {
  const fd = await openFile(dir, 'r');
  try {
    await fsyncFd(fd);
  } finally {
    closeSync(fd);
  }
}

export async function removeDirIfEmpty(dir: string): Promise<void> {
  try {
    await rmdir(dir);
  } catch (err) {
    if (!hasCode(err, 'ENOENT', 'ENOTEMPTY', 'EEXIST')) throw err;
  }
}

/** Names of the entries of `dir` of one kind; none when `dir` does not exist. */
export async function listNames(dir: string, kind: 'file' | 'directory'): Promise<string[]> {
  try {
    const entries = await readdir(dir, { withFileTypes: true });
    return entries.filter((e) => (kind === 'file' ? e.isFile() : e.isDirectory())).map((e) => e.name);
  } catch (err) {
    if (hasCode(err, 'ENOENT')) return [];
    throw err;
  }
}

/**
 * `fn` over `items` with at most `limit` running at once, results in the order of `items`.
 * After a failure no new item starts; the first error is thrown once the running ones settle.
 */
export async function mapLimit<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T) => Promise<R>,
): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  let failed = false;
  const worker = async (): Promise<void> => {
    while (!failed && next < items.length) {
      const index = next++;
      try {
        results[index] = await fn(items[index]);
      } catch (err) {
        failed = true;
        throw err;
      }
    }
  };
  const workers = Array.from({ length: Math.min(limit, items.length) }, worker);
  const settled = await Promise.allSettled(workers);
  const rejected = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
  if (rejected) throw rejected.reason;
  return results;
}
