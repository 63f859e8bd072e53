import Database from 'better-sqlite3';
import { createConnection } from 'mysql2/promise';
import { join } from 'node:path';
import { DAY_MS, HOUR_MS } from '../../../src/domain/time';
import { ingestRange } from '../../../src/ingest/run';
import { ingestDeps } from '../../../src/ingest/wiring';
import { silentLogger } from '../../../src/log';
import { capabilitiesOf } from '../../../src/store/capabilities';
import { openJsonStore } from '../../../src/store/json';
import { tempDirs } from '../../support/fake-ingest';
import { mariaDbFleet, sqliteFleet } from '../../support/opennebula-fleet';
import { config, DAY, EXPECTED, NOW, VMS } from '../../support/opennebula-checks';

const dirs = tempDirs('cl-one-garbled-');
afterEach(() => dirs.cleanup());

/** The fleet in a SQLite file changed by `edit`, ingested for the day: its report and one-3's host history. */
async function ingestEdited(edit: string[]) {
  const dir = dirs.make();
  const file = join(dir, 'acct.db');
  sqliteFleet(file, VMS);
  const db = new Database(file);
  for (const statement of edit) db.exec(statement);
  db.close();
  return ingestFrom(dir, `sqlite:${file}`);
}

async function ingestFrom(dir: string, url: string) {
  const cfg = config(join(dir, 'store'), url);
  const store = await openJsonStore({ dataDir: join(dir, 'store') });
  try {
    const deps = await ingestDeps(cfg, store, silentLogger, { now: () => NOW });
    const report = await ingestRange(deps, DAY, DAY + DAY_MS);
    const histories = await capabilitiesOf(cfg.store, store).hostHistory.read(['one-3']);
    return { report, history: histories.get('one-3') };
  } finally {
    await store.close();
  }
}

const hoursRun = (vmId: number) => EXPECTED.filter((e) => e.vmId === vmId).map((e) => e.hour);
const at = (hour: number) => DAY + hour * HOUR_MS;
const hoursBetween = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => at(from + i));
const one3 = VMS[2].registers[0];
/** VM 1's first delta ending after 10:00, and the hour it ends in. */
const delta = VMS[0].deltas.find((d) => d.timestamp >= DAY / 1000 + 10 * 3600)!;
const deltaHour = Math.floor((delta.timestamp * 1000) / HOUR_MS) * HOUR_MS;

describe('the OpenNebula source given NULLs, orphans and inverted registers', () => {
  it.each([
    // VM 2 ran 01:20–20:10 under gid 101, uid 6 with 4 vcpus; none of it may go to gid-0 or uid-0.
    ['UPDATE vms SET gid = NULL WHERE id = 2', hoursRun(2), 'one-2 vms.gid is not a number (NULL or text)'],
    ['UPDATE vms SET uid = NULL WHERE id = 2', hoursRun(2), 'one-2 vms.uid is not a number (NULL or text)'],
    ['UPDATE vms SET vcpu = NULL WHERE id = 2', hoursRun(2), 'one-2 vms.vcpu is not a number (NULL or text)'],
    ['UPDATE vms SET vcpu = 0 WHERE id = 2', hoursRun(2), 'one-2 vms.vcpu 0 is not at least 1'],
    // VM 3's first register ran 02:00–08:30 on node-b: with no rstime it may have run since any time.
    [
      'UPDATE registers SET rstime = NULL WHERE vm_id = 3 AND seq = 0',
      hoursBetween(0, 9),
      'one-3 registers.rstime is not a number (NULL or text) (vm_id 3, seq 0)',
    ],
    [
      'UPDATE registers SET hostname = NULL WHERE vm_id = 3 AND seq = 0',
      hoursBetween(2, 9),
      'one-3 registers.hostname is NULL or empty (vm_id 3, seq 0)',
    ],
    // With no start its bytes cannot be spread: the hour it ends in fails, rather than it vanishing.
    [
      `UPDATE vm_deltas SET ptimestamp = NULL WHERE vm_id = 1 AND timestamp = ${delta.timestamp}`,
      [deltaHour],
      'one-1 vm_deltas.ptimestamp is not a number (NULL or text)',
    ],
  ])('fails the hours of %s, naming the column and the VM', async (edit, hours, error) => {
    const { report, history } = await ingestEdited([edit]);
    expect(report.failed.map((f) => f.hour)).toEqual(hours);
    for (const f of report.failed) expect(f.error).toBe(`OpenNebula accounting database: ${error}`);
    expect(report.okHours).toBe(24 - hours.length);
    expect(history?.periods.every((p) => p.host !== '')).toBe(true);
  });

  it('fails the hours between the times of a register whose retime is before its rstime, and stores no inverted period', async () => {
    const retime = one3.rstime - 2 * 3600;
    const { report, history } = await ingestEdited([
      `UPDATE registers SET retime = ${retime} WHERE vm_id = 3 AND seq = 0`,
    ]);
    expect(report.failed.map((f) => f.hour)).toEqual(hoursBetween(0, 2));
    expect(report.failed[0].error).toBe(
      `OpenNebula accounting database: one-3 registers.retime ${retime} is before rstime ${one3.rstime} (vm_id 3, seq 0)`,
    );
    expect(history!.periods.map((p) => p.host)).toEqual(['node-a']);
    expect(history!.periods.every((p) => p.to === null || p.to >= p.from)).toBe(true);
  });

  it('reads NULL registers and orphans from MariaDB the same way', async () => {
    const db = await mariaDbFleet(VMS);
    try {
      const conn = await createConnection({ uri: db.url });
      await conn.query('UPDATE registers SET rstime = NULL WHERE vm_id = 3 AND seq = 0');
      await conn.query('DELETE FROM vms WHERE id = 2');
      await conn.end();
      const { report } = await ingestFrom(dirs.make(), db.url);
      const failed = new Set([...hoursBetween(0, 9), ...hoursRun(2)]);
      expect(report.failed.map((f) => f.hour)).toEqual([...failed].sort((a, b) => a - b));
      expect(report.failed[0].error).toBe(
        'OpenNebula accounting database: one-3 registers.rstime is not a number (NULL or text) (vm_id 3, seq 0)',
      );
    } finally {
      await db.drop();
    }
  });

  it('gives a register with a NULL reason no reason, not NONE', async () => {
    const { report, history } = await ingestEdited([
      'UPDATE registers SET reason = NULL WHERE vm_id = 3 AND seq = 0',
    ]);
    expect(report.failed).toEqual([]);
    expect(history!.periods.map((p) => p.reason)).toEqual([null, null]);
  });

  it('fails the hours registers ran in when their VM has no vms row, rather than dropping them', async () => {
    const { report } = await ingestEdited(['DELETE FROM vms WHERE id = 3']);
    expect(report.failed.map((f) => f.hour)).toEqual(hoursRun(3));
    for (const f of report.failed)
      expect(f.error).toMatch(
        /^OpenNebula accounting database: one-3 registers \(vm_id 3, seq [01]\) has no vms row$/,
      );
  });
});
