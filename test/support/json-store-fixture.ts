import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openJsonStore } from '../../src/store/json';
import type { StoreFixture } from './describe-store';
import { dayEntryPath } from './store-files';

/** An empty JSON store in a temporary directory, for the shared suite. */
export async function jsonStoreFixture(): Promise<StoreFixture> {
  const root = await mkdtemp(join(tmpdir(), 'carbonledger-json-store-'));
  const dataDir = join(root, 'data');
  return {
    store: await openJsonStore({ dataDir }),
    openAnother: () => openJsonStore({ dataDir }),
    damageDay: (level, key, date) => writeFile(dayEntryPath(dataDir, level, key, date), '{ "date": '),
    cleanup: () => rm(root, { recursive: true, force: true }),
  };
}
