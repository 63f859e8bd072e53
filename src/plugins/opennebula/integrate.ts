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

/** One row of `vm_samples`: `cpu` in percent of one CPU (100 = one CPU fully busy). */
export interface Sample {
  timestamp: number;
  cpu: number;
}

/** A VM's running periods and samples, what its hours are integrated from. */
export interface VmHistory {
  vcpu: number;
  registers: readonly Register[];
  /** In time order; may start before the window (the sample still held at its start). */
  samples: readonly Sample[];
}

/** What one VM did in one hour: seconds running, busy CPU seconds, and where it ran longest. */
export interface VmHour {
  hour: number;
  runningSeconds: number;
  busyCpuSeconds: number;
  idleCpuSeconds: number;
  host: string;
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
 * Each sample's value as held (ms): from its timestamp until the next sample's, or until the VM
 * stops running (the end of the running interval it falls in). A sample taken while the VM is not
 * running holds nothing; before a VM's first sample nothing is known, so nothing counts as busy.
 */
export function heldSamples(
  samples: readonly Sample[],
  running: readonly Interval[],
): Array<[Interval, number]> {
  const held: Array<[Interval, number]> = [];
  samples.forEach((sample, i) => {
    const at = sample.timestamp * 1000;
    const period = running.find(([from, to]) => at >= from && at < to);
    if (period === undefined) return;
    const next = i + 1 < samples.length ? samples[i + 1].timestamp * 1000 : Infinity;
    const end = Math.min(next, period[1]);
    if (end > at) held.push([[at, end], sample.cpu]);
  });
  return held;
}

/**
 * The VM's whole hours in [fromHour, toHour) in which it ran (pure). Busy CPU seconds integrate the
 * held samples' `cpu` / 100 exactly over each hour; idle = vcpu × seconds running − busy (never
 * below 0: a sample above vcpu × 100 % is counted as it is, with no idle time).
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
    const busyCpuSeconds = held.reduce(
      (sum, [period, cpu]) => sum + (overlap(period, window) / 1000) * (cpu / 100),
      0,
    );
    let host = '';
    let longest = 0;
    for (const [period, name] of hosts) {
      const ms = overlap(period, window);
      if (ms > longest) [host, longest] = [name, ms];
    }
    const runningSeconds = runningMs / 1000;
    hours.push({
      hour,
      runningSeconds,
      busyCpuSeconds,
      idleCpuSeconds: Math.max(0, vm.vcpu * runningSeconds - busyCpuSeconds),
      host,
    });
  }
  return hours;
}

/** OpenNebula's register reasons by number (seed 004). */
export const REGISTER_REASONS = ['NONE', 'ERROR', 'STOP_RESUME', 'USER', 'CANCEL'] as const;

export function reasonName(reason: number): string | null {
  return REGISTER_REASONS[reason] ?? null;
}
