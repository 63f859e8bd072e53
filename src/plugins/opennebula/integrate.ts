import { HOUR_MS } from '../../domain/time';

/** One row of `registers`: a period a VM ran on a host (seed 004); times in epoch seconds. */
export interface Register {
  vmId: number;
  seq: number;
  hostname: string;
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

/** The union of the registers' [rstime, retime) in ms, an open retime (0) running to `now`; sorted, disjoint. */
export function runningIntervals(registers: readonly Register[], now: number): Interval[] {
  const periods = registers
    .filter((r) => r.rstime > 0)
    .map((r): Interval => [r.rstime * 1000, r.retime === 0 ? now : r.retime * 1000])
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

/** Why a column's value cannot be a measurement, or undefined. */
const badValue = (column: string, value: number): string | undefined =>
  Number.isFinite(value) && value >= 0 ? undefined : `${column} ${value} is not a finite number ≥ 0`;

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
 * idle = vcpu × seconds running − busy (never below 0: a sample above vcpu × 100 % is counted as it
 * is, with no idle time). Traffic is each delta spread evenly over its interval; the share of an
 * hour the VM did not run in at all has no instance-hour to go to and is not counted.
 */
export function integrateVm(vm: VmHistory, fromHour: number, toHour: number, now: number): VmHour[] {
  const running = runningIntervals(vm.registers, now);
  const held = heldSamples(vm.samples, running);
  const hosts = vm.registers
    .filter((r) => r.rstime > 0)
    .map((r): [Interval, string] => [[r.rstime * 1000, r.retime === 0 ? now : r.retime * 1000], r.hostname]);
  const hours: VmHour[] = [];
  for (let hour = fromHour; hour < toHour; hour += HOUR_MS) {
    const window: Interval = [hour, hour + HOUR_MS];
    const runningMs = running.reduce((sum, period) => sum + overlap(period, window), 0);
    if (runningMs === 0) continue;
    let busyCpuSeconds = 0;
    let memoryByteHours = 0;
    let problem: string | undefined;
    for (const [period, sample] of held) {
      const ms = overlap(period, window);
      if (ms === 0) continue;
      problem ??= badValue('vm_samples.cpu', sample.cpu) ?? badValue('vm_samples.memory', sample.memory);
      busyCpuSeconds += (ms / 1000) * (sample.cpu / 100);
      memoryByteHours += (ms / HOUR_MS) * sample.memory * BYTES_PER_KIB;
    }
    let networkReceiveBytes = 0;
    let networkTransmitBytes = 0;
    for (const delta of vm.deltas ?? []) {
      const share = deltaShare(delta, window);
      if (share === 0) continue;
      problem ??= badValue('vm_deltas.net_rx', delta.netRx) ?? badValue('vm_deltas.net_tx', delta.netTx);
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
