import { HOUR_MS } from '../../../src/domain/time';
import { hash32, mulberry32, observedSpan, type FleetSpec, type Run, type VmSpec } from './fleet';

/**
 * The resource series of the generated fleet (contract section 8), read two ways like the CPU
 * rates: sampled by the OpenMetrics writer, integrated exactly by the expected answers.
 *
 * Gauges (memory and filesystem space in use) hold one value per segment, so a scrape at t reads
 * the value of t's segment and holds it until the next scrape, as Prometheus reads a gauge.
 * Network counters grow at a constant rate within a segment, like the CPU counters.
 */

const GIB = 2 ** 30;

export interface FilesystemSpec {
  device: string;
  fstype: string;
  mountpoint: string;
  sizeBytes: number;
  /** Mean fraction in use; each segment wanders 1 % around it. */
  usedFraction: number;
  /** Mounted at this time (a scrape), else from boot. */
  fromMs?: number;
}

/** `lo` carries traffic too, which the service must leave out (`prometheus.excludeDevices`). */
export const DEVICES = ['eth0', 'lo'] as const;
export type Device = (typeof DEVICES)[number];
export type Direction = 'receive' | 'transmit';

/** node_exporter's `/`, a tmpfs (left out by `prometheus.excludeFstypes`) and, for one VM, `/data` added mid-day. */
export function filesystemsOf(vm: VmSpec): FilesystemSpec[] {
  const filesystems: FilesystemSpec[] = [
    {
      device: '/dev/vda1',
      fstype: 'ext4',
      mountpoint: '/',
      sizeBytes: 80e9,
      usedFraction: 0.2 + 0.1 * vm.cpus,
    },
    { device: 'tmpfs', fstype: 'tmpfs', mountpoint: '/run', sizeBytes: 2e9, usedFraction: 0.05 },
  ];
  const added = vm.resourceEvents?.filesystemAddedMs;
  if (added !== undefined) {
    filesystems.push({
      device: '/dev/vdb',
      fstype: 'xfs',
      mountpoint: '/data',
      sizeBytes: 500e9,
      usedFraction: 0.6,
      fromMs: added,
    });
  }
  return filesystems;
}

/** Whether the service counts a filesystem (the default `excludeFstypes`). */
export const countsFilesystem = (fs: FilesystemSpec): boolean =>
  !/^(tmpfs|devtmpfs|overlay|squashfs|ramfs|nsfs|proc|sysfs)$/.test(fs.fstype);

export const memTotalBytes = (vm: VmSpec): number => vm.cpus * 4 * GIB;

/** Draws already made: a scrape reads its segment's values ten times over, and hashing is most of the cost. */
const draws = new Map<string, number>();

function random(spec: FleetSpec, vm: VmSpec, what: string, segment: number): number {
  const key = `${spec.seed}|${vm.name}|${what}|${segment}`;
  let draw = draws.get(key);
  if (draw === undefined) {
    if (draws.size >= 1_000_000) draws.clear();
    draw = mulberry32(hash32(key))();
    draws.set(key, draw);
  }
  return draw;
}

/** Memory in use in a segment: a level per VM, wandering 2 % from segment to segment, whole bytes. */
export function memoryInUse(spec: FleetSpec, vm: VmSpec, segment: number): number {
  const level = 0.3 + 0.4 * random(spec, vm, 'memory-level', 0);
  return Math.round(memTotalBytes(vm) * level * (1 + 0.02 * (2 * random(spec, vm, 'memory', segment) - 1)));
}

/** Space in use on a filesystem in a segment, whole bytes. */
export function filesystemUsed(spec: FleetSpec, vm: VmSpec, fs: FilesystemSpec, segment: number): number {
  const wander = 1 + 0.01 * (2 * random(spec, vm, `fs ${fs.mountpoint}`, segment) - 1);
  return Math.round(fs.sizeBytes * fs.usedFraction * wander);
}

/** Bytes per second through a device in a segment. */
export function networkRate(
  spec: FleetSpec,
  vm: VmSpec,
  device: Device,
  direction: Direction,
  segment: number,
): number {
  const base = device === 'lo' ? 400_000 : direction === 'receive' ? 120_000 : 30_000;
  return Math.round(base * (0.5 + random(spec, vm, `${device} ${direction}`, segment)));
}

/** Bytes through a device over [fromMs, toMs]: the exact integral of `networkRate`. */
export function networkBytes(
  spec: FleetSpec,
  vm: VmSpec,
  device: Device,
  direction: Direction,
  fromMs: number,
  toMs: number,
): number {
  let bytes = 0;
  for (let segment = Math.floor(fromMs / spec.segmentMs); segment * spec.segmentMs < toMs; segment++) {
    const start = Math.max(fromMs, segment * spec.segmentMs);
    const end = Math.min(toMs, (segment + 1) * spec.segmentMs);
    if (end > start) bytes += (networkRate(spec, vm, device, direction, segment) * (end - start)) / 1000;
  }
  return bytes;
}

/** Where a device's counter of `run` last started from 0 at or before `timeMs`: boot, or eth0's reset. */
export function counterStartMs(vm: VmSpec, run: Run, device: Device, timeMs: number): number {
  const reset = vm.resourceEvents?.interfaceResetMs;
  return device === 'eth0' && reset !== undefined && reset > run.bootMs && reset <= timeMs
    ? reset
    : run.bootMs;
}

/** ∫ f over segments of [fromMs, toMs), in value-hours. */
function gaugeHours(
  spec: FleetSpec,
  fromMs: number,
  toMs: number,
  value: (segment: number) => number,
): number {
  let sum = 0;
  for (let segment = Math.floor(fromMs / spec.segmentMs); segment * spec.segmentMs < toMs; segment++) {
    const start = Math.max(fromMs, segment * spec.segmentMs);
    const end = Math.min(toMs, (segment + 1) * spec.segmentMs);
    if (end > start) sum += (value(segment) * (end - start)) / HOUR_MS;
  }
  return sum;
}

export interface ExpectedResources {
  upHours: number;
  memoryByteHours: number;
  diskByteHours: number;
  networkReceiveBytes: number;
  networkTransmitBytes: number;
}

/**
 * The exact resources of a VM in hour [hour, hour + 1h): over the parts of it in which the VM ran
 * (boot, or the data's start, to its last scrape), memory and counted filesystems integrated, and
 * the traffic of every device but `lo`.
 */
export function expectedResources(spec: FleetSpec, vm: VmSpec, hour: number): ExpectedResources {
  const figures: ExpectedResources = {
    upHours: 0,
    memoryByteHours: 0,
    diskByteHours: 0,
    networkReceiveBytes: 0,
    networkTransmitBytes: 0,
  };
  for (const run of vm.runs) {
    const span = observedSpan(spec, run);
    const fromMs = Math.max(span.fromMs, hour);
    const toMs = Math.min(span.toMs, hour + HOUR_MS);
    if (fromMs >= toMs) continue;
    figures.upHours += (toMs - fromMs) / HOUR_MS;
    figures.memoryByteHours += gaugeHours(spec, fromMs, toMs, (segment) => memoryInUse(spec, vm, segment));
    for (const fs of filesystemsOf(vm).filter(countsFilesystem)) {
      const mountedFrom = Math.max(fromMs, fs.fromMs ?? fromMs);
      if (mountedFrom >= toMs) continue;
      figures.diskByteHours += gaugeHours(spec, mountedFrom, toMs, (segment) =>
        filesystemUsed(spec, vm, fs, segment),
      );
    }
    figures.networkReceiveBytes += networkBytes(spec, vm, 'eth0', 'receive', fromMs, toMs);
    figures.networkTransmitBytes += networkBytes(spec, vm, 'eth0', 'transmit', fromMs, toMs);
  }
  return figures;
}

/**
 * Whether Prometheus's reading of this VM-hour may be off by more than rounding (2 % at most,
 * contract section 8): a boot, a stop, a scrape gap, a filesystem mounted or a counter reset
 * inside it. Any other hour is exact to 0.1 %.
 */
export function isEdgeHour(spec: FleetSpec, vm: VmSpec, hour: number): boolean {
  const end = hour + HOUR_MS;
  const inside = (t: number | undefined) => t !== undefined && t > hour && t < end;
  const wholeRun = vm.runs.some((run) => {
    const span = observedSpan(spec, run);
    return span.fromMs <= hour && span.toMs >= end;
  });
  return (
    !wholeRun ||
    vm.scrapeGaps.some((gap) => gap.fromMs < end && gap.toMs > hour) ||
    inside(vm.resourceEvents?.filesystemAddedMs) ||
    inside(vm.resourceEvents?.interfaceResetMs)
  );
}
