import Database from 'better-sqlite3';
import { join } from 'node:path';
import type { Config } from '../../../src/config';
import { DAY_MS, HOUR_MS } from '../../../src/domain/time';
import { ingestRange } from '../../../src/ingest/run';
import { ingestDeps } from '../../../src/ingest/wiring';
import { silentLogger } from '../../../src/log';
import { openJsonStore } from '../../../src/store/json';
import type { Store } from '../../../src/store/store';
import { tempDirs } from '../../support/fake-ingest';
import { sqliteFleet, type FleetVm } from '../../support/opennebula-fleet';
import { config, DAY, expectEveryLevelMatches, NOW, VMS } from '../../support/opennebula-checks';

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

  /** The fleet with `edit` applied, ingested for the day: the report, and the store to look into. */
  async function ingestEdited(
    edit: string[],
    check: (report: Awaited<ReturnType<typeof ingestDay>>, store: Store) => Promise<void>,
  ) {
    const { file, storeDir } = fleetFile(VMS, edit);
    const store = await openJsonStore({ dataDir: storeDir });
    try {
      await check(await ingestDay(config(storeDir, `sqlite:${file}`), store), store);
    } finally {
      await store.close();
    }
  }

  /** VM 1's sample in the middle of the day, and the hour it is taken in. */
  const sample = VMS[0].samples.find((s) => s.timestamp >= DAY / 1000 + 10 * 3600)!;
  const sampleHour = Math.floor((sample.timestamp * 1000) / HOUR_MS) * HOUR_MS;

  it('fails the hours of a cpu above vcpu × 100 %, naming the column, and stores the others', async () => {
    await ingestEdited(
      [`UPDATE vm_samples SET cpu = 400000 WHERE vm_id = 1 AND timestamp = ${sample.timestamp}`],
      async (report) => {
        const failed = report.failed.map((f) => f.hour);
        expect(failed).toContain(sampleHour);
        expect(failed.length).toBeLessThanOrEqual(2);
        for (const f of report.failed)
          expect(f.error).toBe(
            'OpenNebula accounting database: one-1 vm_samples.cpu 400000 is more than vcpu 2 × 100 %',
          );
        expect(report.okHours).toBe(24 - failed.length);
      },
    );
  });

  it.each([
    ['vm_samples', 'cpu', `vm_id = 1 AND timestamp = ${sample.timestamp}`],
    ['vm_samples', 'memory', `vm_id = 1 AND timestamp = ${sample.timestamp}`],
    [
      'vm_deltas',
      'net_rx',
      `vm_id = 1 AND timestamp = (SELECT MIN(timestamp) FROM vm_deltas WHERE vm_id = 1 AND timestamp >= ${sample.timestamp})`,
    ],
    [
      'vm_deltas',
      'net_tx',
      `vm_id = 1 AND timestamp = (SELECT MIN(timestamp) FROM vm_deltas WHERE vm_id = 1 AND timestamp >= ${sample.timestamp})`,
    ],
  ])(
    'fails the hours a NULL %s.%s counts in, naming the column, rather than counting 0',
    async (table, column, where) => {
      await ingestEdited([`UPDATE ${table} SET ${column} = NULL WHERE ${where}`], async (report) => {
        expect(report.failed.length).toBeGreaterThan(0);
        for (const f of report.failed)
          expect(f.error).toBe(
            `OpenNebula accounting database: one-1 ${table}.${column} is not a number (NULL or text)`,
          );
        expect(report.okHours).toBe(24 - report.failed.length);
      });
    },
  );

  it('ends a register left open (retime 0) at the etime of a VM that is DONE, not at now', async () => {
    // VM 2 entered DONE at 20:10; its last register, left open, must not run on until now.
    await ingestEdited(
      ['UPDATE registers SET retime = 0 WHERE vm_id = 2 AND seq = 1'],
      async (report, store) => {
        expect(report.failed).toEqual([]);
        await expectEveryLevelMatches(store);
      },
    );
  });
});
