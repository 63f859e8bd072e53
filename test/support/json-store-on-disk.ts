// What the JSON store's unit tests (test/unit/store/json-store*.test.ts) share: its files on disk.
import { mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import type { Level } from '../../src/domain/levels';
import type { DayEntry } from '../../src/domain/usage';
import { openJsonStore, type JsonStore } from '../../src/store/json';
import { figures, usage } from './describe-store';

export const newRoot = (): Promise<string> => mkdtemp(join(tmpdir(), 'carbonledger-json-store-'));

/** A JSON store on `data` in a new temporary directory (`root`); the data directory is not made yet. */
export async function openTempJsonStore(): Promise<{ root: string; dataDir: string; store: JsonStore }> {
  const root = await newRoot();
  const dataDir = join(root, 'data');
  return { root, dataDir, store: await openJsonStore({ dataDir }) };
}

/** Closes a store of openTempJsonStore and removes its temporary directory. */
export async function removeTempJsonStore(store: JsonStore, dataDir: string): Promise<void> {
  await store.close();
  await rm(dirname(dataDir), { recursive: true, force: true });
}

/** Every directory and file under `dir`, by path relative to it: a directory maps to 'dir', a file to its bytes. */
export async function snapshot(dir: string): Promise<Map<string, Buffer | 'dir'>> {
  const found = new Map<string, Buffer | 'dir'>();
  const walk = async (relative: string): Promise<void> => {
    for (const entry of await readdir(join(dir, relative), { withFileTypes: true })) {
      const path = relative === '' ? entry.name : `${relative}/${entry.name}`;
      if (entry.isDirectory()) {
        found.set(path, 'dir');
        await walk(path);
      } else {
        found.set(path, await readFile(join(dir, path)));
      }
    }
  };
  await walk('');
  return found;
}

/** Inode of every file: an atomic rewrite always gives a new one. */
export async function inodes(dir: string): Promise<Map<string, number>> {
  const files = [...(await snapshot(dir))].filter(([, content]) => content !== 'dir');
  return new Map(
    await Promise.all(files.map(async ([path]) => [path, (await stat(join(dir, path))).ino] as const)),
  );
}

/** The seed's six fields, from `figures(n)`. */
export function six(n: number): Record<string, number> {
  const f = figures(n);
  return {
    busy_cpu_seconds_total: f.busyCpuSeconds,
    idle_cpu_seconds_total: f.idleCpuSeconds,
    busy_kwh: f.busyKwh,
    idle_kwh: f.idleKwh,
    busy_gCo2eq: f.busyGco2eq,
    idle_gCo2eq: f.idleGco2eq,
  };
}

export const text = (value: unknown): string => JSON.stringify(value, null, 2) + '\n';

export const dayOf = (
  level: Level,
  key: string,
  date: string,
  hours: DayEntry['hours'],
  n: number,
): DayEntry => ({
  level,
  key,
  date,
  hours,
  totals: usage(n),
});
