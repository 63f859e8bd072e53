import type { EnergyConfig } from '../../../src/config';
import { zeroFigures, type Breakdown, type Figures } from '../../../src/domain/figures';
import { LEVELS, UNKNOWN, type Level } from '../../../src/domain/levels';
import { machineKey } from '../../../src/domain/machine-key';
import { floorHour, HOUR_MS } from '../../../src/domain/time';
import type { AttributedInstanceHour } from '../../../src/domain/usage';
import { cpuSeconds, MODES, observedSpan, scrapes, type FleetSpec, type VmSpec } from './fleet';
import { expectedResources, isEdgeHour } from './resources';

/**
 * The answers the service must reach, computed from the fleet's rates and never from Prometheus.
 *
 * The service asks `sum without (cpu, mode) (increase(node_cpu_seconds_total{mode=~"idle"}[1h]))`
 * (and the busy complement) at step 3600, so hour H is the point at H+1h. In Prometheus 2.42 the
 * range is closed, [H, H+1h], and `increase` (promql/functions.go, extrapolatedRate) is the last
 * sample minus the first plus the value before each counter reset, scaled up when the samples do not
 * reach the window's edges. With minute-aligned scrapes that scaling is 1 except:
 * - the window's first sample is a boot's first scrape: when it reads 0 (a boot on a scrape, as in
 *   the default fleet) the extrapolation to zero adds exactly nothing;
 * - a VM stops before H+1h: Prometheus adds half a scrape interval past the last sample, 30 s on
 *   top of the sampled span. The default fleet stops VMs at H:50, so those two instance-hours
 *   (`deleted-mid-day` at 2025-09-22T16:00, `reused-first` at 11:00) come out 30/3000 = 1 % high;
 *   every other instance-hour is exact, and the worst day of any key (frank's) is 0.1 % high.
 * A reboot inside an hour is exact: the reset correction adds the counter read before the reboot,
 * and the first reading after it holds the seconds since boot.
 */

/** One VM's usage in one hour, attributed by the contract's rules (section 1). */
export interface ExpectedInstanceHour extends AttributedInstanceHour {
  /** The fleet's name for the VM (two VMs can share an `instance`). */
  vm: string;
  /** A boot, stop, scrape gap, mount or counter reset inside the hour (see resources.ts). */
  edge: boolean;
}

/** Host per contract section 1: the `host` label, else the `instance` label without its port. */
export function hostOf(vm: VmSpec): string {
  return vm.hostLabel ?? vm.instance.replace(/:\d+$/, '');
}

/** Hours (starts) whose closed window [H, H+1h] holds at least two samples of the VM. */
function hoursWithTwoSamples(spec: FleetSpec, vm: VmSpec): number[] {
  const samplesByHour = new Map<number, number>();
  const count = (hour: number): void => {
    samplesByHour.set(hour, (samplesByHour.get(hour) ?? 0) + 1);
  };
  for (const { timeMs } of scrapes(spec, vm)) {
    count(floorHour(timeMs));
    // A scrape on the hour closes the previous hour's window too.
    if (timeMs % HOUR_MS === 0) count(timeMs - HOUR_MS);
  }
  return [...samplesByHour]
    .filter(([, samples]) => samples >= 2)
    .map(([hour]) => hour)
    .sort((a, b) => a - b);
}

function registryRecordFor(spec: FleetSpec, host: string, hour: number) {
  return spec.registry.find(
    (r) => r.hostname === host && r.createdMs <= hour && (r.deletedMs === null || hour < r.deletedMs),
  );
}

/**
 * Every VM-hour with at least two samples: idle and busy CPU-seconds are the integral of the VM's
 * rates over the part of [H, H+1h) in which it ran (boot to last scrape), summed over its CPUs.
 */
export function expectedInstanceHours(spec: FleetSpec): ExpectedInstanceHour[] {
  const rows: ExpectedInstanceHour[] = [];
  for (const vm of spec.vms) {
    const host = hostOf(vm);
    for (const hour of hoursWithTwoSamples(spec, vm)) {
      let idleCpuSeconds = 0;
      let busyCpuSeconds = 0;
      for (const run of vm.runs) {
        const span = observedSpan(spec, run);
        const fromMs = Math.max(span.fromMs, hour);
        const toMs = Math.min(span.toMs, hour + HOUR_MS);
        if (fromMs >= toMs) continue;
        for (let cpu = 0; cpu < vm.cpus; cpu++) {
          const seconds = cpuSeconds(spec, vm, cpu, fromMs, toMs);
          for (const mode of MODES) {
            if (mode === 'idle') idleCpuSeconds += seconds[mode];
            else busyCpuSeconds += seconds[mode];
          }
        }
      }
      const record = registryRecordFor(spec, host, hour);
      rows.push({
        vm: vm.name,
        hour,
        instance: vm.instance,
        host,
        project: vm.project,
        machineName: vm.machineName,
        user: record?.owner ?? UNKNOWN,
        experiment: record?.experiment ?? UNKNOWN,
        busyCpuSeconds,
        idleCpuSeconds,
        ...expectedResources(spec, vm, hour),
        edge: isEdgeHour(spec, vm, hour),
      });
    }
  }
  return rows;
}

const KEY_OF: Record<Level, (row: AttributedInstanceHour) => string> = {
  PROJECT: (row) => row.project,
  EXPERIMENT: (row) => row.experiment,
  MACHINE: (row) => row.machineName,
  USER: (row) => row.user,
  INSTANCE: (row) => row.instance,
};

/** Level → key → hour start → figures, with the per-machine-key breakdown of the day entries. */
export type ExpectedByLevel = Record<Level, Map<string, Map<number, Breakdown>>>;

const zero = (): Figures => zeroFigures();

function add(into: Figures, figures: Figures): void {
  for (const field of Object.keys(figures) as Array<keyof Figures>) into[field] += figures[field];
}

/**
 * Sums per level, key and hour of every figure. CPU (contract section 2): kWh = CPU-seconds × watts
 * per core × PUE / 3.6e6 (W·s per kWh). Resources (section 8): memory kWh = byte-hours / 1e9 ×
 * kWh per GB-hour, storage = byte-hours / 1e12 × kWh per TB-hour, network = bytes / 1e9 × kWh per
 * GB, each × PUE; embodied = kgCO2eq × 1000 × share × upHours / (lifespan × 8760). gCO2eq = kWh ×
 * `gPerKwh`. The MACHINE level is keyed by the machine type as labelled; breakdowns by `machineKey`.
 */
export function expectedByLevel(
  hours: readonly AttributedInstanceHour[],
  energy: EnergyConfig,
  gPerKwh: number,
): ExpectedByLevel {
  const byLevel = Object.fromEntries(LEVELS.map((level) => [level, new Map()])) as ExpectedByLevel;
  for (const row of hours) {
    const machine = energy.machines[row.machineName];
    const busyWatts = machine?.busyWattsPerCore ?? energy.default.busyWattsPerCore;
    const idleWatts = machine?.idleWattsPerCore ?? energy.default.idleWattsPerCore;
    const busyKwh = (row.busyCpuSeconds * busyWatts * energy.pue) / 3_600_000;
    const idleKwh = (row.idleCpuSeconds * idleWatts * energy.pue) / 3_600_000;
    const memoryKwh = (row.memoryByteHours / 1e9) * energy.memoryKwhPerGbHour * energy.pue;
    const storageKwh = (row.diskByteHours / 1e12) * energy.storageKwhPerTbHour * energy.pue;
    const networkKwh =
      ((row.networkReceiveBytes + row.networkTransmitBytes) / 1e9) * energy.networkKwhPerGb * energy.pue;
    const embodied = machine?.embodied;
    const figures: Figures = {
      busyCpuSeconds: row.busyCpuSeconds,
      idleCpuSeconds: row.idleCpuSeconds,
      busyKwh,
      idleKwh,
      busyGco2eq: busyKwh * gPerKwh,
      idleGco2eq: idleKwh * gPerKwh,
      upHours: row.upHours,
      memoryByteHours: row.memoryByteHours,
      diskByteHours: row.diskByteHours,
      networkReceiveBytes: row.networkReceiveBytes,
      networkTransmitBytes: row.networkTransmitBytes,
      memoryKwh,
      storageKwh,
      networkKwh,
      memoryGco2eq: memoryKwh * gPerKwh,
      storageGco2eq: storageKwh * gPerKwh,
      networkGco2eq: networkKwh * gPerKwh,
      embodiedGco2eq: embodied
        ? (embodied.kgCo2eq * 1000 * embodied.share * row.upHours) / (embodied.lifespanYears * 8760)
        : 0,
    };
    for (const level of LEVELS) {
      const byHour = byLevel[level].get(KEY_OF[level](row)) ?? new Map<number, Breakdown>();
      byLevel[level].set(KEY_OF[level](row), byHour);
      const bucket = byHour.get(row.hour) ?? { all: zero(), byMachine: {} };
      byHour.set(row.hour, bucket);
      add(bucket.all, figures);
      add((bucket.byMachine[machineKey(row.machineName)] ??= zero()), figures);
    }
  }
  return byLevel;
}
