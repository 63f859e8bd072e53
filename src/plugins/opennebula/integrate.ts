import { HOUR_MS } from '../../domain/time';
import { badValue, registerProblem } from './checks';

/** One row of `registers`: a period a VM ran on a host (seed 004); times in epoch seconds. */
export interface Register {
  vmId: number;
  seq: number;
  /** Null when the column is NULL (the register then fails the hours it may have run in). */
  hostname: string | null;
  /** NaN when NULL or text, as every number read. */
  rstime: number;
  /** 0 while it still runs there. */
  retime: number;
  reason: number;
}

/**
 * One row of `vm_samples`: `cpu` in percent of one CPU (100 = one CPU fully busy), `memory` in use
 * in KiB.
 */
export interface Sample {
  timestamp: number;
  cpu: number;
  memory: number;
}

/** One row of `vm_deltas`: bytes received and sent in [ptimestamp, timestamp) (epoch seconds). */
export interface Delta {
  timestamp: number;
  ptimestamp: number;
  netRx: number;
  netTx: number;
}

/** A VM's running periods, samples and traffic, what its hours are integrated from. */
export interface VmHistory {
  vcpu: number;
  /** When the VM entered DONE (epoch seconds), 0 while it exists: a register still open then ends there. */
  etime?: number;
  registers: readonly Register[];
  /** In time order; may start before the window (the sample still held at its start). */
  samples: readonly Sample[];
  /** Every delta whose interval meets the window, in any order. */
  deltas?: readonly Delta[];
}

/** What one VM did in one hour: time running, the measured figures, and where it ran longest. */
export interface VmHour {
  hour: number;
  runningSeconds: number;
  busyCpuSeconds: number;
  idleCpuSeconds: number;
  /** Hours running in this hour: the measurements behind the averages. */
  upHours: number;
  /**
   * Of those, the hours a sample held: what the figures were measured from. Less of it for the
   * same hour later means OpenNebula pruned the samples (the store then keeps what it holds).
   */
  sampledHours: number;
  memoryByteHours: number;
  networkReceiveBytes: number;
  networkTransmitBytes: number;
  host: string;
  /** A value counted in this hour that is no measurement (negative, not a number), named; the hour cannot be stored. */
  problem?: string;
}

type Interval = [number, number];

const overlap = (a: Interval, b: Interval): number =>
  Math.max(0, Math.min(a[1], b[1]) - Math.max(a[0], b[0]));

/**
 * Where a register's running period ends (ms): its retime, or for one still open (retime 0) the
 * VM's etime when it is DONE (a VM that ended runs nowhere, whatever its last register says), else
 * `now`.
 */
export function registerEnd(register: Register, etime: number, now: number): number {
  if (register.retime !== 0) return register.retime * 1000;
  return etime > 0 ? Math.min(etime * 1000, now) : now;
}

/**
 * The registers that say when and where the VM ran: a register with rstime 0 never ran, and one
 * that cannot be read (registerProblem) fails its hours instead of counting in them.
 */
export const ranRegisters = (registers: readonly Register[]) =>
  registers.filter((r) => r.rstime > 0 && registerProblem(r) === undefined);

/**
 * The union of the registers' [rstime, retime) in ms, an open retime (0) running to the VM's etime
 * or `now` (registerEnd); sorted, disjoint.
 */
export function runningIntervals(registers: readonly Register[], now: number, etime = 0): Interval[] {
  const periods = ranRegisters(registers)
    .map((r): Interval => [r.rstime * 1000, registerEnd(r, etime, now)])
    .filter(([from, to]) => to > from)
    .sort((a, b) => a[0] - b[0]);
  const union: Interval[] = [];
  for (const [from, to] of periods) {
    const last = union.at(-1);
    if (last !== undefined && from <= last[1]) last[1] = Math.max(last[1], to);
    else union.push([from, to]);
  }
  return union;
}

/**
 * Each sample's values as held (ms): from its timestamp until the next sample's, or until the VM
 * stops running (the end of the running interval it falls in). A sample taken while the VM is not
 * running holds nothing; before a VM's first sample nothing is known, so nothing counts as busy.
 */
export function heldSamples(
  samples: readonly Sample[],
  running: readonly Interval[],
): Array<[Interval, Sample]> {
  const held: Array<[Interval, Sample]> = [];
  samples.forEach((sample, i) => {
    const at = sample.timestamp * 1000;
    const period = running.find(([from, to]) => at >= from && at < to);
    if (period === undefined) return;
    const next = i + 1 < samples.length ? samples[i + 1].timestamp * 1000 : Infinity;
    const end = Math.min(next, period[1]);
    if (end > at) held.push([[at, end], sample]);
  });
  return held;
}

/** KiB in bytes (OpenNebula reports memory in KiB). */
const BYTES_PER_KIB = 1024;

/**
 * The share of a delta's bytes that falls in `window`, spread evenly over its [ptimestamp,
 * timestamp). A delta with no interval (ptimestamp not before timestamp) counts whole in the hour
 * of its timestamp.
 */
function deltaShare(delta: Delta, window: Interval): number {
  const span: Interval = [delta.ptimestamp * 1000, delta.timestamp * 1000];
  const length = span[1] - span[0];
  if (length > 0) return overlap(span, window) / length;
  return span[1] >= window[0] && span[1] < window[1] ? 1 : 0;
}

/**
 * OpenNebula's `cpu` is percent of one CPU (its monitoring reports 200 for two CPUs fully busy), so a
 * VM cannot use more than vcpu × 100; the tolerance allows for a monitor's rounding and a sample
 * taken over a slightly longer interval than it is divided by. A VM's vcpu below 1 fails its hours
 * (checks.ts vmProblem), so the bound of one is only a floor for the arithmetic.
 */
const CPU_TOLERANCE = 1.05;

function cpuProblem(cpu: number, vcpu: number): string | undefined {
  const most = Math.max(1, Number.isFinite(vcpu) ? vcpu : 1) * 100;
  return cpu > most * CPU_TOLERANCE ? `vm_samples.cpu ${cpu} is more than vcpu ${vcpu} × 100 %` : undefined;
}

/** The host the VM ran on longest in `window`. */
function longestHost(hosts: ReadonlyArray<[Interval, string]>, window: Interval): string {
  let host = '';
  let longest = 0;
  for (const [period, name] of hosts) {
    const ms = overlap(period, window);
    if (ms > longest) [host, longest] = [name, ms];
  }
  return host;
}

/**
 * The VM's whole hours in [fromHour, toHour) in which it ran (pure). Busy CPU seconds integrate the
 * held samples' `cpu` / 100 exactly over each hour, and memory byte-hours their `memory` × 1024;
 * idle = vcpu × seconds running − busy (never below 0: a sample a little above vcpu × 100 %, within
 * the tolerance, is counted as it is, with no idle time; one beyond it fails the hour). Traffic is each delta spread evenly over its interval; the share of an
 * hour the VM did not run in at all has no instance-hour to go to and is not counted.
 */
export function integrateVm(vm: VmHistory, fromHour: number, toHour: number, now: number): VmHour[] {
  const etime = vm.etime ?? 0;
  const running = runningIntervals(vm.registers, now, etime);
  const held = heldSamples(vm.samples, running);
  const hosts = ranRegisters(vm.registers).map((r): [Interval, string] => [
    [r.rstime * 1000, registerEnd(r, etime, now)],
    r.hostname ?? '',
  ]);
  const hours: VmHour[] = [];
  for (let hour = fromHour; hour < toHour; hour += HOUR_MS) {
    const window: Interval = [hour, hour + HOUR_MS];
    const runningMs = running.reduce((sum, period) => sum + overlap(period, window), 0);
    if (runningMs === 0) continue;
    let busyCpuSeconds = 0;
    let memoryByteHours = 0;
    let sampledMs = 0;
    let problem: string | undefined;
    for (const [period, sample] of held) {
      const ms = overlap(period, window);
      if (ms === 0) continue;
      sampledMs += ms;
      problem ??=
        badValue('vm_samples.cpu', sample.cpu) ??
        cpuProblem(sample.cpu, vm.vcpu) ??
        badValue('vm_samples.memory', sample.memory);
      busyCpuSeconds += (ms / 1000) * (sample.cpu / 100);
      memoryByteHours += (ms / HOUR_MS) * sample.memory * BYTES_PER_KIB;
    }
    let networkReceiveBytes = 0;
    let networkTransmitBytes = 0;
    for (const delta of vm.deltas ?? []) {
      const share = deltaShare(delta, window);
      if (share === 0) continue;
      problem ??=
        badValue('vm_deltas.ptimestamp', delta.ptimestamp) ??
        badValue('vm_deltas.net_rx', delta.netRx) ??
        badValue('vm_deltas.net_tx', delta.netTx);
      networkReceiveBytes += delta.netRx * share;
      networkTransmitBytes += delta.netTx * share;
    }
    const runningSeconds = runningMs / 1000;
    hours.push({
      hour,
      runningSeconds,
      busyCpuSeconds,
      idleCpuSeconds: Math.max(0, vm.vcpu * runningSeconds - busyCpuSeconds),
      upHours: runningMs / HOUR_MS,
      sampledHours: sampledMs / HOUR_MS,
      memoryByteHours,
      networkReceiveBytes,
      networkTransmitBytes,
      host: longestHost(hosts, window),
      ...(problem === undefined ? {} : { problem }),
    });
  }
  return hours;
}

/** OpenNebula's register reasons by number (seed 004). */
export const REGISTER_REASONS = ['NONE', 'ERROR', 'STOP_RESUME', 'USER', 'CANCEL'] as const;

export function reasonName(reason: number): string | null {
  return REGISTER_REASONS[reason] ?? null;
}
