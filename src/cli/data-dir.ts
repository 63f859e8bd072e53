import { randomBytes } from 'node:crypto';
import { mkdir, readdir, stat, unlink, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import type { Config } from '../config';
import { UsageError } from './usage-error';

const REASONS: Record<string, string> = {
  ENOTDIR: 'a part of the path is a file, not a directory',
  EEXIST: 'a file, not a directory, is there',
  EACCES: 'permission denied',
  EPERM: 'not permitted',
  EROFS: 'on a read-only file system',
  ENOSPC: 'no space left on the device',
  ENOENT: 'the file system there refuses new directories',
};

/**
 * Why `dataDir` cannot hold the store (created if missing, then written to), or null when it can.
 * Checked at start-up so a read-only or impossible directory is named there, not found by the
 * first scheduled ingest. Only writing a file proves it: a mode check says nothing of read-only
 * mounts, immutable directories or ACLs, and root passes every mode check.
 */
export async function dataDirProblem(dataDir: string): Promise<string | null> {
  try {
    await makeDirectories(dataDir);
    if (!(await stat(dataDir)).isDirectory()) return REASONS.EEXIST;
    const probe = join(dataDir, `.write-check-${process.pid}-${randomBytes(4).toString('hex')}`);
    await writeFile(probe, '', { flag: 'wx' });
    await unlink(probe);
    return null;
  } catch (err) {
    return reason(err);
  }
}

/**
 * Why `dataDir` cannot be read as a store, or null when it can: for a process that only reads (a
 * server without a schedule), which must start on a store it may not write (a snapshot, a full
 * disk). One that does not exist yet is an empty store.
 */
export async function dataDirReadProblem(dataDir: string): Promise<string | null> {
  try {
    await readdir(dataDir);
    return null;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    return reason(err);
  }
}

function reason(err: unknown): string {
  const code = (err as NodeJS.ErrnoException).code ?? '';
  return `${REASONS[code] ?? (err as Error).message}${code ? ` (${code})` : ''}`;
}

/**
 * `mkdir -p` one level at a time from the nearest existing ancestor. Node's recursive mkdir loops
 * for ever where a file system answers ENOENT for a directory it will not create (procfs); made
 * level by level, that answer, or EROFS on a read-only mount, comes back as the reason.
 */
async function makeDirectories(path: string): Promise<void> {
  const missing: string[] = [];
  for (let at = resolve(path); ; at = dirname(at)) {
    try {
      await stat(at);
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    missing.push(at);
    if (dirname(at) === at) break;
  }
  for (const dir of missing.reverse()) {
    await mkdir(dir).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== 'EEXIST') throw err;
    });
  }
}

/**
 * A process that writes a JSON store needs to write `dataDir`; one that only reads, to read it.
 * The PostgreSQL store keeps everything in its database, so no directory is made for it.
 */
export async function checkDataDir(config: Config, readsOnly = false): Promise<void> {
  if (config.store.kind !== 'json') return;
  const problem = await (readsOnly ? dataDirReadProblem : dataDirProblem)(config.store.dataDir);
  if (problem !== null) {
    throw new UsageError(
      `store.dataDir (or DATA_DIR): ${config.store.dataDir} cannot hold the store: ${problem}`,
    );
  }
}
