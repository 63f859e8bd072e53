import { createHash } from 'node:crypto';
import { mkdir, rename } from 'node:fs/promises';
import { dirname, join, relative, sep } from 'node:path';
import { LEVELS, type Level } from '../../domain/levels';
import { listNames, readTextIfExists, writeFileAtomic } from '../../fs/files';
import { DAY_FILE, MONTH_FILE, decodeKey } from './layout';

/**
 * Where damaged store files go, under `<dataDir>/quarantine/`:
 * - `suspects/<id>.json`: a reader found a file it could not read and tells the writer, which alone
 *   moves files (a reader might otherwise move a good file a writer had just put in its place);
 * - `<stamp>/<path in dataDir>`: the damaged file as it was found, kept for inspection.
 */
export class QuarantineLayout {
  readonly dir: string;
  readonly suspectsDir: string;

  constructor(readonly dataDir: string) {
    this.dir = join(dataDir, 'quarantine');
    this.suspectsDir = join(this.dir, 'suspects');
  }

  suspectFile(path: string): string {
    const id = createHash('sha256').update(relative(this.dataDir, path)).digest('hex').slice(0, 16);
    return join(this.suspectsDir, `${id}.json`);
  }

  /** A new place for `path`, under a directory named for the moment it was moved. */
  destination(path: string, now: Date): string {
    const stamp = now.toISOString().replace(/:/g, '-');
    return join(this.dir, stamp, relative(this.dataDir, path));
  }
}

export interface Suspect {
  /** Absolute path of the file found unreadable. */
  path: string;
  reason: string;
  foundAt: string;
}

export async function writeSuspect(layout: QuarantineLayout, suspect: Suspect): Promise<void> {
  const text = JSON.stringify({ ...suspect, path: relative(layout.dataDir, suspect.path) }, null, 2) + '\n';
  await writeFileAtomic(layout.suspectFile(suspect.path), text);
}

/** The suspects readers reported, with the notice files to remove once each is dealt with. */
export async function readSuspects(layout: QuarantineLayout): Promise<Array<Suspect & { notice: string }>> {
  const suspects: Array<Suspect & { notice: string }> = [];
  for (const name of await listNames(layout.suspectsDir, 'file')) {
    if (!name.endsWith('.json')) continue;
    const notice = join(layout.suspectsDir, name);
    const text = await readTextIfExists(notice);
    if (text === null) continue;
    try {
      const value = JSON.parse(text) as Partial<Suspect>;
      if (typeof value.path !== 'string') throw new Error('no path');
      suspects.push({
        path: join(layout.dataDir, value.path),
        reason: String(value.reason),
        foundAt: String(value.foundAt),
        notice,
      });
    } catch {
      // A notice that says nothing usable is dropped: the reader will report the file again.
      suspects.push({ path: '', reason: '', foundAt: '', notice });
    }
  }
  return suspects;
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
