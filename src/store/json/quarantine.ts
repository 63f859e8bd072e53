import { mkdir, rename } from 'node:fs/promises';
import { dirname, join, relative, sep } from 'node:path';
import { LEVELS, type Level } from '../../domain/levels';
import { DAY_FILE, MONTH_FILE, decodeKey } from './layout';

/**
 * Where damaged store files go: `<dataDir>/quarantine/<stamp>/<path in dataDir>`, the file as it
 * was found, kept for inspection.
 */
export class QuarantineLayout {
  readonly dir: string;

  constructor(readonly dataDir: string) {
    this.dir = join(dataDir, 'quarantine');
  }

  /** A new place for `path`, under a directory named for the moment it was moved. */
  destination(path: string, now: Date): string {
    const stamp = now.toISOString().replace(/:/g, '-');
    return join(this.dir, stamp, relative(this.dataDir, path));
  }
}

/** Renames `from` to `to`; a file already gone (another writer moved it first) is no error. */
export async function moveAside(from: string, to: string): Promise<void> {
  await mkdir(dirname(to), { recursive: true });
  try {
    await rename(from, to);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
}

/** What a damaged usage file held, from its path; undefined for any other file. */
export type UsageFile =
  | { kind: 'day'; level: Level; key: string; date: string }
  | { kind: 'month'; level: Level; key: string; month: string }
  | { kind: 'year'; level: Level; key: string; year: string };

export function usageFileOf(dataDir: string, path: string): UsageFile | undefined {
  const parts = relative(dataDir, path).split(sep);
  if (parts[0] !== 'usage' || parts.length < 4) return undefined;
  const level = LEVELS.find((l) => l.toLowerCase() === parts[1]);
  const key = decodeKey(parts[2]);
  if (level === undefined || key === null) return undefined;
  if (parts.length === 4) {
    const year = /^(\d{4})\.year\.json$/.exec(parts[3])?.[1];
    return year === undefined ? undefined : { kind: 'year', level, key, year };
  }
  if (parts.length !== 5) return undefined;
  const date = DAY_FILE.exec(parts[4])?.[1];
  if (date !== undefined) return { kind: 'day', level, key, date };
  const month = MONTH_FILE.exec(parts[4])?.[1];
  return month === undefined ? undefined : { kind: 'month', level, key, month };
}
