/**
 * A small OpenNebula fleet written into the accounting tables of seed 004 (MariaDB or SQLite), and
 * the figures it must give, worked out second by second here, apart from the source's integration.
 */
import Database from 'better-sqlite3';
import { randomBytes } from 'node:crypto';
import { createConnection } from 'mysql2/promise';
import { mulberry32 } from './lab/fleet';

export const MARIADB = 'mysql://root@127.0.0.1:3306';

/** The tables of seed 004, with the columns it lists. */
export const SCHEMA = [
  'CREATE TABLE vms (id INTEGER PRIMARY KEY, uid INTEGER, gid INTEGER, name TEXT, stime INTEGER, etime INTEGER, mem INTEGER, cpu FLOAT, vcpu INTEGER)',
  'CREATE TABLE hosts (id INTEGER PRIMARY KEY, name VARCHAR(256), im_mad VARCHAR(128), vm_mad VARCHAR(128), tm_mad VARCHAR(128))',
  'CREATE TABLE registers (vm_id INTEGER, seq INTEGER, hostname TEXT, hid INTEGER, pstime INTEGER, petime INTEGER, rstime INTEGER, retime INTEGER, estime INTEGER, eetime INTEGER, reason INTEGER, PRIMARY KEY (vm_id, seq))',
  'CREATE TABLE vm_deltas (vm_id INTEGER, timestamp INTEGER, ptimestamp INTEGER, net_tx INTEGER, net_rx INTEGER, PRIMARY KEY (vm_id, timestamp))',
  'CREATE TABLE vm_samples (vm_id INTEGER, state INTEGER, lcm_state INTEGER, timestamp INTEGER, last_poll INTEGER, memory INTEGER, cpu INTEGER, net_tx INTEGER, net_rx INTEGER, PRIMARY KEY (vm_id, timestamp))',
  'CREATE TABLE host_samples (host_id INTEGER, state INTEGER, timestamp INTEGER, last_poll INTEGER, disk_usage INTEGER, mem_usage INTEGER, cpu_usage INTEGER, max_disk INTEGER, max_mem INTEGER, max_cpu INTEGER, free_disk INTEGER, free_mem INTEGER, free_cpu INTEGER, used_disk INTEGER, used_mem INTEGER, used_cpu INTEGER, rvms INTEGER, PRIMARY KEY (host_id, timestamp))',
];

export interface FleetRegister {
  seq: number;
  host: string;
  rstime: number;
  retime: number;
  reason: number;
}
/** A row of `vm_deltas`: bytes in [ptimestamp, timestamp). */
export interface FleetDelta {
  ptimestamp: number;
  timestamp: number;
  netRx: number;
  netTx: number;
}
export interface FleetVm {
  id: number;
  uid: number;
  gid: number;
  name: string;
  vcpu: number;
  etime: number;
  registers: FleetRegister[];
  /** `memory` in KiB, as OpenNebula reports it. */
  samples: Array<{ timestamp: number; cpu: number; memory: number }>;
  deltas: FleetDelta[];
}

/** KiB in use: 256 MiB to 8 GiB. */
const memoryKib = (next: () => number) => 262_144 + Math.floor(next() * 8_126_464);

/**
 * Deltas back to back at irregular steps (1 to 15 min) from `from` until `to`, each with up to
 * 50 MB received and 5 MB sent.
 */
function irregularDeltas(next: () => number, from: number, to: number): FleetDelta[] {
  const deltas: FleetDelta[] = [];
  for (let p = from; ;) {
    const t = p + 60 + Math.floor(next() * 840);
    if (t > to) return deltas;
    deltas.push({
      ptimestamp: p,
      timestamp: t,
      netRx: Math.floor(next() * 5e7),
      netTx: Math.floor(next() * 5e6),
    });
    p = t;
  }
}

/**
 * Samples at irregular steps (30 s to 7 min) in [from, to), skipping `gaps`, cpu 0–`maxCpu` %,
 * memory 256 MiB–8 GiB.
 */
function irregularSamples(
  next: () => number,
  from: number,
  to: number,
  maxCpu: number,
  gaps: Array<[number, number]> = [],
): FleetVm['samples'] {
  const samples: FleetVm['samples'] = [];
  for (let t = from; t < to; t += 30 + Math.floor(next() * 390)) {
    if (gaps.some(([a, b]) => t >= a && t < b)) continue;
    samples.push({ timestamp: t, cpu: Math.floor(next() * maxCpu), memory: memoryKib(next) });
  }
  return samples;
}

/**
 * The fleet around `day` (epoch seconds of a UTC midnight): a long-running VM with a two-hour gap
 * in its samples; a VM migrated between hosts mid-hour that later ends (DONE); a VM stopped and
 * resumed on another host, with a delta that spans the stop; a VM that ran only the day before;
 * samples and deltas before the day too.
 */
export function fleet(day: number): FleetVm[] {
  const next = mulberry32(17);
  const h = 3600;
  return [
    {
      id: 1,
      uid: 5,
      gid: 100,
      name: 'matlab-1',
      vcpu: 2,
      etime: 0,
      registers: [{ seq: 0, host: 'node-a', rstime: day - 5 * h + 17, retime: 0, reason: 0 }],
      samples: irregularSamples(next, day - 5 * h + 40, day + 30 * h, 200, [
        [day + 6 * h + 100, day + 8 * h + 2000],
      ]),
      deltas: irregularDeltas(next, day - 5 * h + 17, day + 30 * h),
    },
    {
      id: 2,
      uid: 6,
      gid: 101,
      name: 'gpu-2',
      vcpu: 4,
      etime: day + 20 * h + 611,
      registers: [
        { seq: 0, host: 'node-a', rstime: day + h + 1234, retime: day + 5 * h + 2233, reason: 3 },
        { seq: 1, host: 'node-b', rstime: day + 5 * h + 2301, retime: day + 20 * h + 611, reason: 0 },
      ],
      samples: irregularSamples(next, day + h + 1300, day + 20 * h + 900, 400),
      deltas: [
        ...irregularDeltas(next, day + h + 1234, day + 5 * h + 2233),
        ...irregularDeltas(next, day + 5 * h + 2301, day + 20 * h + 611),
      ],
    },
    {
      id: 3,
      uid: 5,
      gid: 100,
      name: 'matlab-3',
      vcpu: 1,
      etime: 0,
      registers: [
        { seq: 0, host: 'node-b', rstime: day + 2 * h, retime: day + 8 * h + 1800, reason: 2 },
        { seq: 1, host: 'node-a', rstime: day + 11 * h + 901, retime: 0, reason: 0 },
      ],
      samples: [
        ...irregularSamples(next, day + 2 * h + 60, day + 8 * h + 1700, 100),
        ...irregularSamples(next, day + 11 * h + 1000, day + 26 * h, 100),
      ],
      deltas: [
        ...irregularDeltas(next, day + 2 * h, day + 8 * h + 1500),
        // Across the stop: from before it (08:25) to after the resume (11:20).
        { ptimestamp: day + 8 * h + 1500, timestamp: day + 11 * h + 1200, netRx: 7_654_321, netTx: 123_456 },
        ...irregularDeltas(next, day + 11 * h + 1200, day + 26 * h),
      ],
    },
    {
      id: 4,
      uid: 7,
      gid: 100,
      name: 'web-4',
      vcpu: 2,
      etime: day - 2 * h,
      registers: [{ seq: 0, host: 'node-c', rstime: day - 20 * h, retime: day - 2 * h, reason: 0 }],
      samples: irregularSamples(next, day - 20 * h, day - 2 * h, 200),
      deltas: irregularDeltas(next, day - 20 * h, day - 2 * h),
    },
  ];
}

/** What one VM did in one hour, counted second by second. */
export interface ExpectedHour {
  vmId: number;
  hour: number;
  busyCpuSeconds: number;
  idleCpuSeconds: number;
  upHours: number;
  memoryByteHours: number;
  networkReceiveBytes: number;
  networkTransmitBytes: number;
}

type Counts = Omit<ExpectedHour, 'vmId' | 'hour' | 'idleCpuSeconds' | 'upHours'> & { running: number };

/**
 * A VM's running seconds, busy CPU seconds and memory byte-hours per hour of [from, to), second by
 * second: a second counts when some register runs the VM then; it is busy and holds memory by the
 * latest sample at or before it, unless the VM stopped running between that sample and this second.
 */
function secondsOf(vm: FleetVm, from: number, to: number, now: number): Map<number, Counts> {
  const runs = (s: number) =>
    vm.registers.some((r) => r.rstime > 0 && s >= r.rstime && s < (r.retime || now));
  const samples = [...vm.samples].sort((a, b) => a.timestamp - b.timestamp);
  const hours = new Map<number, Counts>();
  let at = -1;
  // The newest second before this one in which the VM was not running.
  let lastStopped = -Infinity;
  const first = Math.min(from, ...samples.map((x) => x.timestamp), ...vm.registers.map((r) => r.rstime)) - 1;
  for (let s = first; s < to; s++) {
    while (at + 1 < samples.length && samples[at + 1].timestamp <= s) at++;
    if (!runs(s)) {
      lastStopped = s;
      continue;
    }
    if (s < from) continue;
    const hour = s - (s % 3600);
    let counts = hours.get(hour);
    if (counts === undefined) {
      counts = {
        running: 0,
        busyCpuSeconds: 0,
        memoryByteHours: 0,
        networkReceiveBytes: 0,
        networkTransmitBytes: 0,
      };
      hours.set(hour, counts);
    }
    counts.running++;
    const sample = samples[at];
    if (sample !== undefined && sample.timestamp > lastStopped) {
      counts.busyCpuSeconds += sample.cpu / 100;
      counts.memoryByteHours += (sample.memory * 1024) / 3600;
    }
  }
  return hours;
}

/**
 * Each VM's figures per hour of [from, to) (epoch seconds), second by second: CPU and memory as
 * `secondsOf` counts them; each delta's bytes spread evenly over the seconds of its interval,
 * counted in the hours the VM ran in.
 */
export function expectedHours(
  vms: readonly FleetVm[],
  from: number,
  to: number,
  now: number,
): ExpectedHour[] {
  const out: ExpectedHour[] = [];
  for (const vm of vms) {
    const hours = secondsOf(vm, from, to, now);
    for (const delta of vm.deltas) {
      const seconds = delta.timestamp - delta.ptimestamp;
      for (let s = delta.ptimestamp; s < delta.timestamp; s++) {
        const counts = hours.get(s - (s % 3600));
        if (counts === undefined) continue;
        counts.networkReceiveBytes += delta.netRx / seconds;
        counts.networkTransmitBytes += delta.netTx / seconds;
      }
    }
    for (const [hour, { running, ...figures }] of [...hours].sort((a, b) => a[0] - b[0])) {
      out.push({
        vmId: vm.id,
        hour: hour * 1000,
        ...figures,
        idleCpuSeconds: Math.max(0, vm.vcpu * running - figures.busyCpuSeconds),
        upHours: running / 3600,
      });
    }
  }
  return out;
}

function rowsOf(vms: readonly FleetVm[]): Array<[string, unknown[][]]> {
  return [
    [
      'INSERT INTO vms (id, uid, gid, name, stime, etime, mem, cpu, vcpu) VALUES ',
      vms.map((v) => [v.id, v.uid, v.gid, v.name, v.registers[0].rstime, v.etime, 0, 0, v.vcpu]),
    ],
    [
      'INSERT INTO hosts (id, name, im_mad, vm_mad, tm_mad) VALUES ',
      [
        [0, 'node-a', 'kvm', 'kvm', 'ssh'],
        [1, 'node-b', 'kvm', 'kvm', 'ssh'],
        [2, 'node-c', 'kvm', 'kvm', 'ssh'],
      ],
    ],
    [
      'INSERT INTO registers (vm_id, seq, hostname, hid, pstime, petime, rstime, retime, estime, eetime, reason) VALUES ',
      vms.flatMap((v) =>
        v.registers.map((r) => [
          v.id,
          r.seq,
          r.host,
          0,
          r.rstime - 60,
          r.rstime,
          r.rstime,
          r.retime,
          r.retime,
          r.retime,
          r.reason,
        ]),
      ),
    ],
    [
      'INSERT INTO vm_samples (vm_id, state, lcm_state, timestamp, last_poll, memory, cpu, net_tx, net_rx) VALUES ',
      vms.flatMap((v) => v.samples.map((s) => [v.id, 3, 3, s.timestamp, s.timestamp, s.memory, s.cpu, 0, 0])),
    ],
    [
      'INSERT INTO vm_deltas (vm_id, timestamp, ptimestamp, net_tx, net_rx) VALUES ',
      vms.flatMap((v) => v.deltas.map((d) => [v.id, d.timestamp, d.ptimestamp, d.netTx, d.netRx])),
    ],
  ];
}

/** A database of its own on the running MariaDB, with the fleet; `drop` removes it. */
export async function mariaDbFleet(vms: readonly FleetVm[]): Promise<{ url: string; drop(): Promise<void> }> {
  const name = `cl_one_${randomBytes(6).toString('hex')}`;
  const admin = await createConnection({ uri: `${MARIADB}/` });
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const db = await createConnection({ uri: `${MARIADB}/${name}` });
  try {
    for (const statement of SCHEMA) await db.query(statement);
    for (const [insert, rows] of rowsOf(vms)) {
      for (let i = 0; i < rows.length; i += 500) await db.query(`${insert} ?`, [rows.slice(i, i + 500)]);
    }
  } finally {
    await db.end();
  }
  return {
    url: `${MARIADB}/${name}`,
    async drop() {
      const conn = await createConnection({ uri: `${MARIADB}/` });
      await conn.query(`DROP DATABASE IF EXISTS ${name}`);
      await conn.end();
    },
  };
}

/** The same fleet in a SQLite file (as a copied accounting database would be). */
export function sqliteFleet(file: string, vms: readonly FleetVm[]): void {
  const db = new Database(file);
  try {
    for (const statement of SCHEMA) db.exec(statement);
    db.transaction(() => {
      for (const [insert, rows] of rowsOf(vms)) {
        for (const row of rows) db.prepare(`${insert}(${row.map(() => '?').join(', ')})`).run(...row);
      }
    })();
  } finally {
    db.close();
  }
}
