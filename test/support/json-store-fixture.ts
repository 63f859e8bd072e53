import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openJsonStore, type JsonStore } from '../../src/store/json';
import type { Store } from '../../src/store/store';
import type { StoreFixture } from './describe-store';
import { JsonLayout } from '../../src/store/json/layout';
import { usageFileOf } from '../../src/store/json/quarantine';
import { dayEntryPath } from './store-files';
import { storeFiles } from './store-invariants';

/** An empty JSON store in a temporary directory, for the shared suite. */
export async function jsonStoreFixture(): Promise<StoreFixture> {
  const root = await mkdtemp(join(tmpdir(), 'carbonledger-json-store-'));
  const dataDir = join(root, 'data');
  return {
    store: await openJsonStore({ dataDir }),
    openAnother: () => openJsonStore({ dataDir }),
    damageDay: (level, key, date) => writeFile(dayEntryPath(dataDir, level, key, date), '{ "date": '),
    damageRollup: (level, key, period) => {
      const layout = new JsonLayout(dataDir);
      const path =
        period.length === 4 ? layout.yearFile(level, key, period) : layout.monthFile(level, key, period);
      return writeFile(path, '{"totals": 1}');
    },
    // Files moved aside go to quarantine/<time>/<their path>.
    rollupsSetAside: async () => {
      const quarantine = join(dataDir, 'quarantine');
      const moved = existsSync(quarantine) ? await storeFiles(quarantine) : [];
      return moved.flatMap((path) => {
        const file = usageFileOf(dataDir, join(dataDir, path.replace(/^[^/]+\//, '')));
        if (file === undefined || file.kind === 'day') return [];
        return [`${file.kind} ${file.level} ${file.key} ${file.kind === 'month' ? file.month : file.year}`];
      });
    },
    cleanup: () => rm(root, { recursive: true, force: true }),
  };
}

/** A JSON store as a plain object: the test server spreads its store, which a class instance would not survive. */
export function plainStore(store: JsonStore): Store {
  return {
    openWriter: (options) => store.openWriter(options),
    readLedger: (from, to) => store.readLedger(from, to),
    version: () => store.version(),
    intensityCache: store.intensityCache,
    readDays: (level, date, keys) => store.readDays(level, date, keys),
    readMonths: (level, month, keys) => store.readMonths(level, month, keys),
    readYears: (level, year, keys) => store.readYears(level, year, keys),
    readInstanceProjects: () => store.readInstanceProjects(),
    instances: store.instances,
    listKeys: (level) => store.listKeys(level),
    checkReadable: () => store.checkReadable(),
    close: () => store.close(),
  };
}
