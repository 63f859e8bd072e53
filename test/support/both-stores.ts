import { openJsonStore } from '../../src/store/json';
import { openPostgresStore } from '../../src/store/postgres';
import type { Store } from '../../src/store/store';
import { createTestDatabase } from './postgres';

/** An opened empty store, the config `store` section that names it, and how to drop it. */
export interface OpenedTestStore {
  section: Record<string, unknown>;
  store: Store;
  drop(): Promise<void>;
}

/**
 * A fresh store of each kind, for tests that must behave the same on both: a JSON store in a
 * directory from `makeDir`, and a PostgreSQL store in a database of its own.
 */
export function bothStores(makeDir: () => string): Array<[string, () => Promise<OpenedTestStore>]> {
  return [
    [
      'JSON',
      async () => {
        const dataDir = makeDir();
        return { section: { dataDir }, store: await openJsonStore({ dataDir }), drop: async () => undefined };
      },
    ],
    [
      'PostgreSQL',
      async () => {
        const database = await createTestDatabase();
        return {
          section: { kind: 'postgres', url: database.url },
          store: await openPostgresStore({ url: database.url }),
          drop: () => database.drop(),
        };
      },
    ],
  ];
}
