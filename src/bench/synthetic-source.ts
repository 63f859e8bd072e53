import { HOUR_MS } from '../domain/time';
import type { RawInstanceHour } from '../domain/usage';
import type { CpuSecondsSource, SourceHour } from '../ingest/ports';
import { benchVm, busyFraction, RESOURCE_FAMILIES, type BenchFleetSpec } from './fleet';

/** Series the default `excludeFstypes` and `excludeDevices` leave out of the figures (contract section 8). */
const excluded = (labels: string): boolean =>
  labels.includes('fstype="tmpfs"') || labels.includes('device="lo"');

/** A gauge family's value for VM `vm`, summed over its counted series. */
function gauge(name: string, vm: number, busy: number): number {
  const family = RESOURCE_FAMILIES.find((f) => f.name === name)!;
  return family.series.reduce((sum, s, i) => (excluded(s.labels) ? sum : sum + family.value(vm, i, busy)), 0);
}

/** A counter family's growth over one hour, summed over its counted series. */
function hourlyGrowth(name: string, vm: number, busy: number): number {
  return gauge(name, vm, busy) * 3600;
}

/**
 * The bench fleet's instance-hours as the Prometheus source answers them for the backfilled fleet
 * (one CPU, busy by `busyFraction`, the resource families of src/bench/fleet.ts whole hours up),
 * made without Prometheus: the ingestion's own cost and memory at a fleet size whose backfill would
 * take longer than the run (1,000 × 365 with the resource series is ~420 M samples). Its figures
 * are the generator's exact integrals, so no floor is measured against it.
 */
export function benchFleetSource(spec: BenchFleetSpec): CpuSecondsSource {
  const vms = Array.from({ length: spec.instances }, (_, i) => {
    const vm = benchVm(spec, i);
    const labels = {
      instance: vm.instance,
      job: 'node',
      cloud_project_name: vm.project,
      machine_name: vm.machineName,
    };
    return { index: i, vm, labels };
  });
  return {
    async fetchHours(fromHour, toHour) {
      const hours = new Map<number, SourceHour>();
      for (let hour = fromHour; hour < toHour; hour += HOUR_MS) {
        const hourIndex = (hour - spec.fromMs) / HOUR_MS;
        if (hourIndex < 0 || hour >= spec.fromMs + spec.days * 24 * HOUR_MS) {
          hours.set(hour, { status: 'ok', rows: [] });
          continue;
        }
        const rows: RawInstanceHour[] = vms.map(({ index, vm, labels }) => {
          const busy = busyFraction(spec.seed, index, hourIndex);
          return {
            hour,
            instance: vm.instance,
            labels,
            busyCpuSeconds: busy * 3600,
            idleCpuSeconds: (1 - busy) * 3600,
            upHours: 1,
            memoryByteHours:
              gauge('node_memory_MemTotal_bytes', index, busy) -
              gauge('node_memory_MemAvailable_bytes', index, busy),
            diskByteHours:
              gauge('node_filesystem_size_bytes', index, busy) -
              gauge('node_filesystem_avail_bytes', index, busy),
            networkReceiveBytes: hourlyGrowth('node_network_receive_bytes', index, busy),
            networkTransmitBytes: hourlyGrowth('node_network_transmit_bytes', index, busy),
          };
        });
        hours.set(hour, { status: 'ok', rows });
      }
      return hours;
    },
  };
}
