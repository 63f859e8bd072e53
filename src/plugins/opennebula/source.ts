import type { OpenNebulaConfig } from '../../config';
import { UNKNOWN } from '../../domain/levels';
import { ownValue } from '../../domain/own';
import { redactCredentials } from '../../domain/redact';
import { MEASURED_NAMES, type MeasuredFigures } from '../../domain/metrics';
import { cpuSecondsProblem, figureProblem } from '../../domain/plausible';
import { HOUR_MS, isWholeHour } from '../../domain/time';
import type { RawInstanceHour } from '../../domain/usage';
import { silentLogger, type Logger } from '../../log';
import type { HostPeriodRecord, InstanceHostHistory } from '../../store/host-history';
import type { CpuSecondsSource, SourceHour } from '../../ingest/ports';
import { deltasOf, registersOf, samplesOf, VM_GROUP, vmIdsRunningIn, vmsOf, type VmRow } from './accounting';
import { openAccountingDb, type AccountingDb } from './database';
import { hoursMeeting, registerProblem, registerSpan, vmProblem } from './checks';
import { integrateVm, ranRegisters, reasonName, registerEnd, type Register, type VmHour } from './integrate';

export const OPENNEBULA_SOURCE = 'opennebula';

export interface OpenNebulaSourceDeps {
  log?: Logger;
  /** The current time: an open register (retime 0) runs until then. */
  now: () => number;
  /** Told the host history of every VM a fetch met (to keep it in the store). */
  onHostHistory?: (histories: ReadonlyMap<string, InstanceHostHistory>) => Promise<void>;
}

export const instanceOf = (vmId: number) => `one-${vmId}`;

/** The VM name up to its first "-": `matlab-7` → `matlab`. */
const namePrefix = (name: string) => name.split('-')[0] || UNKNOWN;

/** Contract section 10's keys of a VM, from the config's maps or their fallbacks. */
function keysOf(config: OpenNebulaConfig, vm: VmRow) {
  const prefix = namePrefix(vm.name);
  return {
    project: ownValue(config.groups, String(vm.gid)) ?? `gid-${vm.gid}`,
    user: ownValue(config.users, String(vm.uid)) ?? `uid-${vm.uid}`,
    machineName: ownValue(config.machines, prefix) ?? prefix,
    experiment: UNKNOWN,
  };
}

/**
 * The VM's periods on hosts; a register left open by a VM that is DONE ends at its etime. A register
 * that cannot be read (registerProblem) is no period: its hours fail instead.
 */
function hostPeriods(registers: readonly Register[], etime: number): HostPeriodRecord[] {
  return ranRegisters(registers).map((r) => {
    const open = r.retime === 0 && etime === 0;
    return {
      host: r.hostname ?? '',
      from: r.rstime * 1000,
      to: open ? null : r.retime === 0 ? etime * 1000 : r.retime * 1000,
      // The reason says why it left the host, so a period still open has none yet.
      reason: open ? null : reasonName(r.reason),
    };
  });
}

/**
 * The hours of [fromHour, toHour) a VM's registers fail, each with the first reason: a register
 * that cannot be read fails the hours it may have run in, and every register of a VM with no `vms`
 * row (`orphan`) the hours it ran in, since they cannot be charged to anyone.
 */
function registerProblems(
  vmId: number,
  registers: readonly Register[],
  orphan: boolean,
  range: { fromHour: number; toHour: number; now: number },
): Map<number, string> {
  const problems = new Map<number, string>();
  for (const r of registers) {
    const bad = registerProblem(r);
    if (bad === undefined && (!orphan || r.rstime <= 0)) continue;
    const span: [number, number] =
      bad === undefined ? [r.rstime * 1000, registerEnd(r, 0, range.now)] : registerSpan(r);
    const why = bad ?? `registers (vm_id ${vmId}, seq ${r.seq}) has no vms row`;
    for (const hour of hoursMeeting(span, range.fromHour, range.toHour))
      if (!problems.has(hour)) problems.set(hour, `${instanceOf(vmId)} ${why}`);
  }
  return problems;
}

/** The catalogue's measured figures of a VM's hour, as Prometheus's source gives them. */
function measured(hour: VmHour): Omit<RawInstanceHour, 'instance' | 'labels'> & MeasuredFigures {
  return {
    hour: hour.hour,
    busyCpuSeconds: hour.busyCpuSeconds,
    idleCpuSeconds: hour.idleCpuSeconds,
    upHours: hour.upHours,
    sampledHours: hour.sampledHours,
    memoryByteHours: hour.memoryByteHours,
    diskByteHours: 0,
    networkReceiveBytes: hour.networkReceiveBytes,
    networkTransmitBytes: hour.networkTransmitBytes,
  };
}

/**
 * Why a row cannot be stored (a figure from a garbled column: negative, not a number, CPU seconds
 * beyond any machine), or undefined.
 */
function rowProblem(row: RawInstanceHour): string | undefined {
  for (const name of MEASURED_NAMES) {
    const value = row[name] ?? 0;
    const problem =
      name === 'busyCpuSeconds' || name === 'idleCpuSeconds'
        ? cpuSecondsProblem(value)
        : figureProblem(value);
    if (problem !== undefined) return `${row.instance} ${name} ${value} ${problem}`;
  }
  return undefined;
}

interface ReadHours {
  rows: RawInstanceHour[];
  histories: Map<string, InstanceHostHistory>;
  /** Hours a value read cannot be stored in, with the first such value named. */
  problems: Map<number, string>;
}

/** Instance-hours of every VM that ran in [fromHour, toHour), read a group of VMs at a time. */
async function readHours(
  db: AccountingDb,
  config: OpenNebulaConfig,
  fromHour: number,
  toHour: number,
  now: number,
  signal: AbortSignal | undefined,
): Promise<ReadHours> {
  const [from, to] = [fromHour / 1000, toHour / 1000];
  const ids = await vmIdsRunningIn(db, from, to, config.batchRows);
  const rows: RawInstanceHour[] = [];
  const problems = new Map<number, string>();
  const histories = new Map<string, InstanceHostHistory>();
  for (let at = 0; at < ids.length; at += VM_GROUP) {
    signal?.throwIfAborted();
    const group = ids.slice(at, at + VM_GROUP);
    const [vms, registers, samples, deltas] = [
      await vmsOf(db, group),
      await registersOf(db, group),
      await samplesOf(db, group, from, to, config.batchRows),
      await deltasOf(db, group, from, to, config.batchRows),
    ];
    const note = (found: ReadonlyMap<number, string>) => {
      for (const [hour, problem] of found) if (!problems.has(hour)) problems.set(hour, problem);
    };
    const known = new Set(vms.map((vm) => vm.id));
    for (const id of group.filter((vmId) => !known.has(vmId))) {
      const own = registers.filter((r) => r.vmId === id);
      note(registerProblems(id, own, true, { fromHour, toHour, now }));
    }
    for (const vm of vms) {
      const own = registers.filter((r) => r.vmId === vm.id);
      const instance = instanceOf(vm.id);
      note(registerProblems(vm.id, own, false, { fromHour, toHour, now }));
      const bad = vmProblem(vm);
      // etime is when the VM entered DONE (seed 004).
      histories.set(instance, {
        periods: hostPeriods(own, vm.etime),
        endedAt: vm.etime > 0 ? vm.etime * 1000 : null,
      });
      const keys = keysOf(config, vm);
      const history = {
        vcpu: vm.vcpu,
        etime: vm.etime,
        registers: own,
        samples: samples.get(vm.id) ?? [],
        deltas: deltas.get(vm.id) ?? [],
      };
      for (const hour of integrateVm(history, fromHour, toHour, now)) {
        rows.push({ instance, labels: {}, ...measured(hour), attribution: { ...keys, host: hour.host } });
        const problem = bad ?? hour.problem;
        if (problem !== undefined && !problems.has(hour.hour))
          problems.set(hour.hour, `${instance} ${problem}`);
      }
    }
  }
  return { rows, histories, problems };
}

/**
 * An answer for every hour: its rows, or failed naming the first value read or row worked out that
 * cannot be stored.
 */
function answersOf({ rows, problems }: ReadHours, fromHour: number, toHour: number) {
  const answers = new Map<number, SourceHour>();
  const fail = (hour: number, problem: string) =>
    answers.set(hour, { status: 'failed', error: `OpenNebula accounting database: ${problem}` });
  for (let hour = fromHour; hour < toHour; hour += HOUR_MS) answers.set(hour, { status: 'ok', rows: [] });
  for (const [hour, problem] of problems) fail(hour, problem);
  for (const row of rows) {
    const answer = answers.get(row.hour)!;
    if (answer.status === 'failed') continue;
    const problem = rowProblem(row);
    if (problem === undefined) answer.rows.push(row);
    else fail(row.hour, problem);
  }
  return answers;
}

/**
 * CPU seconds, memory and traffic per VM and hour from OpenNebula's accounting database (seed 004, contract section
 * 10). Each fetch opens the database, reads only the VMs that ran in the range, a group at a time,
 * and closes it. A database that cannot be read fails every hour of the fetch, as Prometheus being
 * down does.
 */
export function createOpenNebulaSource(
  config: OpenNebulaConfig,
  deps: OpenNebulaSourceDeps,
): CpuSecondsSource {
  const log = (deps.log ?? silentLogger).child({ source: OPENNEBULA_SOURCE });
  return {
    async fetchHours(fromHour, toHour, signal) {
      if (!isWholeHour(fromHour) || !isWholeHour(toHour)) {
        throw new RangeError(`fetchHours expects whole hours, got ${fromHour} to ${toHour}`);
      }
      const answers = new Map<number, SourceHour>();
      let read: ReadHours;
      try {
        const db = await openAccountingDb(config.url, config.timeoutMs, signal);
        try {
          read = await readHours(db, config, fromHour, toHour, deps.now(), signal);
        } finally {
          await db.close().catch(() => undefined);
        }
      } catch (err) {
        signal?.throwIfAborted();
        // Stored with the hours and logged: a driver's message may quote the URL, never its password.
        const message = redactCredentials(err instanceof Error ? err.message : String(err));
        const reason = `OpenNebula accounting database: ${message}`;
        log.warn('accounting database could not be read', { reason });
        for (let hour = fromHour; hour < toHour; hour += HOUR_MS)
          answers.set(hour, { status: 'failed', error: reason });
        return answers;
      }
      await deps.onHostHistory?.(read.histories);
      return answersOf(read, fromHour, toHour);
    },
  };
}
