import type { AccountingDb } from './database';
import type { Delta, Register, Sample } from './integrate';

/** A row of `vms` as the source needs it. */
export interface VmRow {
  id: number;
  /** NaN when NULL or text (checks.ts vmProblem fails the VM's hours), as gid and vcpu. */
  uid: number;
  gid: number;
  name: string;
  vcpu: number;
  /** When it entered DONE, epoch seconds; 0 while it exists. */
  etime: number;
}

/** VMs whose ids a query names at once. */
export const VM_GROUP = 100;

const placeholders = (n: number) => Array.from({ length: n }, () => '?').join(', ');
const num = (value: unknown) => Number(value);
/** A measured column's value: NULL is no measurement (NaN, which fails the hour naming the column), never 0. */
const measure = (value: unknown) => (value === null || value === undefined ? NaN : Number(value));

/**
 * Every VM that ran at some time in [from, to) (epoch seconds), by its registers, in id order,
 * read `batchRows` ids at a time; and every VM with a register that cannot say whether it did (a
 * NULL time, or a retime before its rstime, across the range), whose hours then fail.
 */
export async function vmIdsRunningIn(
  db: AccountingDb,
  from: number,
  to: number,
  batchRows: number,
): Promise<number[]> {
  const ids: number[] = [];
  for (let after = -1; ;) {
    const rows = await db.query<{ vm_id: unknown }>(
      'SELECT DISTINCT vm_id FROM registers WHERE vm_id > ? AND (' +
        '(rstime > 0 AND rstime < ? AND (retime = 0 OR retime > ?)) ' +
        'OR (rstime IS NULL AND (retime IS NULL OR retime = 0 OR retime > ?)) ' +
        'OR (retime IS NULL AND rstime < ?) ' +
        'OR (retime > 0 AND retime < rstime AND retime < ? AND rstime > ?)) ORDER BY vm_id LIMIT ?',
      [after, to, from, from, to, to, from, batchRows],
    );
    ids.push(...rows.map((r) => num(r.vm_id)));
    if (rows.length < batchRows) return ids;
    after = ids[ids.length - 1];
  }
}

export async function vmsOf(db: AccountingDb, ids: readonly number[]): Promise<VmRow[]> {
  const rows = await db.query<Record<string, unknown>>(
    `SELECT id, uid, gid, name, vcpu, etime FROM vms WHERE id IN (${placeholders(ids.length)})`,
    ids,
  );
  return rows.map((r) => ({
    id: num(r.id),
    uid: measure(r.uid),
    gid: measure(r.gid),
    name: String(r.name ?? ''),
    vcpu: measure(r.vcpu),
    etime: num(r.etime ?? 0),
  }));
}

/** Every register of the VMs (their whole host history), by VM and sequence. */
export async function registersOf(db: AccountingDb, ids: readonly number[]): Promise<Register[]> {
  const rows = await db.query<Record<string, unknown>>(
    `SELECT vm_id, seq, hostname, rstime, retime, reason FROM registers WHERE vm_id IN (${placeholders(ids.length)}) ` +
      'ORDER BY vm_id, seq',
    ids,
  );
  return rows.map((r) => ({
    vmId: num(r.vm_id),
    seq: num(r.seq),
    hostname: r.hostname === null || r.hostname === undefined ? null : String(r.hostname),
    rstime: measure(r.rstime),
    retime: measure(r.retime),
    // NULL is no reason known (reasonName gives null), never NONE.
    reason: measure(r.reason),
  }));
}

const sampleOf = (r: Record<string, unknown>): Sample => ({
  timestamp: num(r.timestamp),
  cpu: measure(r.cpu),
  memory: measure(r.memory),
});

/**
 * The VMs' samples in [from, to) (epoch seconds), with the last one before `from` (its value still
 * holds at the window's start), by VM in time order; read `batchRows` rows at a time.
 */
export async function samplesOf(
  db: AccountingDb,
  ids: readonly number[],
  from: number,
  to: number,
  batchRows: number,
): Promise<Map<number, Sample[]>> {
  const byVm = new Map<number, Sample[]>(ids.map((id) => [id, []]));
  const previous = await db.query<Record<string, unknown>>(
    'SELECT s.vm_id, s.timestamp, s.cpu, s.memory FROM vm_samples s JOIN (SELECT vm_id, MAX(timestamp) AS t FROM vm_samples ' +
      `WHERE vm_id IN (${placeholders(ids.length)}) AND timestamp < ? GROUP BY vm_id) p ` +
      'ON s.vm_id = p.vm_id AND s.timestamp = p.t',
    [...ids, from],
  );
  for (const r of previous) byVm.get(num(r.vm_id))?.push(sampleOf(r));
  for (let after: [number, number] = [-1, 0]; ;) {
    const rows = await db.query<Record<string, unknown>>(
      `SELECT vm_id, timestamp, cpu, memory FROM vm_samples WHERE vm_id IN (${placeholders(ids.length)}) ` +
        'AND timestamp >= ? AND timestamp < ? AND (vm_id > ? OR (vm_id = ? AND timestamp > ?)) ' +
        'ORDER BY vm_id, timestamp LIMIT ?',
      [...ids, from, to, after[0], after[0], after[1], batchRows],
    );
    for (const r of rows) byVm.get(num(r.vm_id))?.push(sampleOf(r));
    if (rows.length < batchRows) return byVm;
    const last = rows[rows.length - 1];
    after = [num(last.vm_id), num(last.timestamp)];
  }
}

/**
 * The VMs' deltas whose [ptimestamp, timestamp) meets [from, to) (epoch seconds), or whose
 * timestamp falls in it (one with a NULL ptimestamp included), by VM; read `batchRows` rows at a time.
 */
export async function deltasOf(
  db: AccountingDb,
  ids: readonly number[],
  from: number,
  to: number,
  batchRows: number,
): Promise<Map<number, Delta[]>> {
  const byVm = new Map<number, Delta[]>(ids.map((id) => [id, []]));
  for (let after: [number, number] = [-1, 0]; ;) {
    const rows = await db.query<Record<string, unknown>>(
      `SELECT vm_id, timestamp, ptimestamp, net_rx, net_tx FROM vm_deltas WHERE vm_id IN (${placeholders(ids.length)}) ` +
        'AND timestamp >= ? AND (ptimestamp < ? OR (ptimestamp IS NULL AND timestamp < ?)) ' +
        'AND (vm_id > ? OR (vm_id = ? AND timestamp > ?)) ORDER BY vm_id, timestamp LIMIT ?',
      [...ids, from, to, to, after[0], after[0], after[1], batchRows],
    );
    for (const r of rows) {
      byVm.get(num(r.vm_id))?.push({
        timestamp: num(r.timestamp),
        // NULL (NaN) counts in the hour of its timestamp, and fails it there.
        ptimestamp: measure(r.ptimestamp),
        netRx: measure(r.net_rx),
        netTx: measure(r.net_tx),
      });
    }
    if (rows.length < batchRows) return byVm;
    const last = rows[rows.length - 1];
    after = [num(last.vm_id), num(last.timestamp)];
  }
}
