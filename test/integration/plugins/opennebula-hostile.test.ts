import Database from 'better-sqlite3';
import { join } from 'node:path';
import type { Config } from '../../../src/config';
import { DAY_MS } from '../../../src/domain/time';
import { ingestRange } from '../../../src/ingest/run';
import { ingestDeps } from '../../../src/ingest/wiring';
import { silentLogger } from '../../../src/log';
import { openJsonStore } from '../../../src/store/json';
import type { Store } from '../../../src/store/store';
import { tempDirs } from '../../support/fake-ingest';
import { sqliteFleet, type FleetVm } from '../../support/opennebula-fleet';
import { config, DAY, NOW, VMS } from '../../support/opennebula-checks';

const dirs = tempDirs('cl-one-hostile-');
afterEach(() => dirs.cleanup());

async function ingestDay(cfg: Config, store: Store) {
  const deps = await ingestDeps(cfg, store, silentLogger, { now: () => NOW });
  return ingestRange(deps, DAY, DAY + DAY_MS);
}

/** The fleet in a SQLite file under a fresh directory, changed by `edit` (SQL run on the file). */
function fleetFile(vms: readonly FleetVm[], edit: string[] = []): { file: string; storeDir: string } {
  const dir = dirs.make();
  const file = join(dir, 'acct.db');
  sqliteFleet(file, vms);
  const db = new Database(file);
  try {
    for (const statement of edit) db.exec(statement);
  } finally {
    db.close();
  }
  return { file, storeDir: join(dir, 'store') };
}

describe('the OpenNebula source given names and values from a hostile database', () => {
  it('takes VM names that are names of what every object inherits as machine types', async () => {
    const names = ['constructor-x', '__proto__-y', 'toString-1', 'hasOwnProperty-2'];
    const vms = VMS.map((vm, i) => ({ ...vm, name: names[i] }));
    const { file, storeDir } = fleetFile(vms);
    const store = await openJsonStore({ dataDir: storeDir });
    try {
      const report = await ingestDay(config(storeDir, `sqlite:${file}`), store);
      expect(report.failed).toEqual([]);
      expect(report.okHours).toBe(24);
      expect((await store.listKeys('MACHINE')).sort()).toEqual(
        expect.arrayContaining(['constructor', '__proto__', 'toString']),
      );
    } finally {
      await store.close();
    }
  });
});
