import { lstat, readdir, readFile } from 'node:fs/promises';
import { join, relative } from 'node:path';

/** Every file under `dir` with its bytes, keyed by relative path: a store snapshot to compare. */
export async function snapshotFiles(dir: string, under = ''): Promise<Map<string, string>> {
  const files = new Map<string, string>();
  const walk = async (path: string): Promise<void> => {
    let entries;
    try {
      entries = await readdir(path, { withFileTypes: true });
    } catch {
      return;
    }
    for (const entry of entries) {
      const full = join(path, entry.name);
      if (entry.isDirectory()) await walk(full);
      // `version` is a new random token after every change, however the change was made.
      else if (full !== join(dir, 'version')) files.set(relative(dir, full), await readFile(full, 'utf8'));
    }
  };
  await walk(join(dir, under));
  return files;
}

/** The contract's path of a day entry. */
export function dayEntryPath(dataDir: string, level: string, key: string, date: string): string {
  return join(
    dataDir,
    'usage',
    level.toLowerCase(),
    encodeURIComponent(key),
    date.slice(0, 4),
    `${date}.json`,
  );
}

export async function readDayEntryFile(
  dataDir: string,
  level: string,
  key: string,
  date: string,
): Promise<StoredDayEntry | undefined> {
  try {
    return JSON.parse(await readFile(dayEntryPath(dataDir, level, key, date), 'utf8')) as StoredDayEntry;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

export type StoredSix = Record<
  | 'busy_cpu_seconds_total'
  | 'idle_cpu_seconds_total'
  | 'busy_kwh'
  | 'idle_kwh'
  | 'busy_gCo2eq'
  | 'idle_gCo2eq',
  number | 'failed'
>;
export interface StoredDayEntry {
  date: string;
  timeseries: Record<string, Record<string, StoredSix>>;
  [keyField: string]: unknown;
}

/**
 * Every entry under `dir` (directories too, and `version`) with what would show a write: its
 * kind, size, modification time and bytes. Equal before and after means nothing was written.
 */
export async function treeStamp(dir: string): Promise<Map<string, string>> {
  const stamps = new Map<string, string>();
  const walk = async (path: string): Promise<void> => {
    const stats = await lstat(path);
    const bytes = stats.isFile() ? await readFile(path, 'utf8') : '';
    stamps.set(
      relative(dir, path),
      `${stats.isDirectory() ? 'dir' : 'file'}:${stats.size}:${stats.mtimeMs}:${bytes}`,
    );
    if (stats.isDirectory()) for (const name of await readdir(path)) await walk(join(path, name));
  };
  await walk(dir);
  return stamps;
}
