import { HOUR_MS } from '../../src/domain/time';
import type { RawInstanceHour } from '../../src/domain/usage';
import type { CpuSecondsSource, SourceHour } from '../../src/ingest/ports';

/**
 * A small fleet of several users for daily summaries, with every measured figure: alice runs a
 * `Large (GPU)` VM all along and a `Small` one by day; bob's `Small` VM starts at 10:30 on the
 * first day (half an up hour) and runs on; carol's `Large (GPU)` VM runs from the second day.
 * Figures vary by hour so sums mean something. Hours in `failing` answer failed.
 */
export interface SummaryFleet extends CpuSecondsSource {
  failing: Set<number>;
  /** The up hours the fleet had in [from, to), by user and machine type: the generator's truth. */
  upHours(user: string, from: number, to: number): Map<string, number>;
}

interface Vm {
  instance: string;
  user: string;
  machineName: string;
  cpus: number;
  /** The share of hour `hour` the VM was up (0 when it was not). */
  up(hour: number): number;
}

export function summaryFleet(firstDay: number): SummaryFleet {
  const hourOfDay = (hour: number) => new Date(hour).getUTCHours();
  const bobStarts = firstDay + 10.5 * HOUR_MS;
  const vms: Vm[] = [
    { instance: 'a1:9100', user: 'alice', machineName: 'Large (GPU)', cpus: 8, up: () => 1 },
    {
      instance: 'a2:9100',
      user: 'alice',
      machineName: 'Small',
      cpus: 2,
      up: (hour) => (hourOfDay(hour) >= 8 && hourOfDay(hour) < 18 ? 1 : 0),
    },
    {
      instance: 'b1:9100',
      user: 'bob',
      machineName: 'Small',
      cpus: 2,
      up: (hour) => Math.min(1, Math.max(0, (hour + HOUR_MS - bobStarts) / HOUR_MS)),
    },
    {
      instance: 'c1:9100',
      user: 'carol',
      machineName: 'Large (GPU)',
      cpus: 4,
      up: (hour) => (hour >= firstDay + 24 * HOUR_MS ? 1 : 0),
    },
  ];
  const row = (vm: Vm, hour: number): RawInstanceHour => {
    const up = vm.up(hour);
    const load = 0.2 + (0.6 * ((hourOfDay(hour) * 7 + vm.cpus) % 10)) / 10;
    const seconds = up * 3600 * vm.cpus;
    return {
      hour,
      instance: vm.instance,
      labels: {
        cloud_project_name: 'P',
        machine_name: vm.machineName,
        host: `host-${vm.instance.slice(0, 2)}`,
        instance: vm.instance,
        user: vm.user,
      },
      busyCpuSeconds: seconds * load,
      idleCpuSeconds: seconds * (1 - load),
      upHours: up,
      memoryByteHours: up * vm.cpus * 2e9 * (0.5 + load),
      diskByteHours: up * 40e9 * (1 + hourOfDay(hour) / 24),
      networkReceiveBytes: up * 1e6 * (hourOfDay(hour) + 1),
      networkTransmitBytes: up * 5e5 * (hourOfDay(hour) + 1),
    };
  };
  const fleet: SummaryFleet = {
    failing: new Set(),
    async fetchHours(fromHour, toHour) {
      const out = new Map<number, SourceHour>();
      for (let hour = fromHour; hour < toHour; hour += HOUR_MS) {
        out.set(
          hour,
          fleet.failing.has(hour)
            ? { status: 'failed', error: 'Prometheus answered 503' }
            : { status: 'ok', rows: vms.filter((vm) => vm.up(hour) > 0).map((vm) => row(vm, hour)) },
        );
      }
      return out;
    },
    upHours(user, from, to) {
      const byMachine = new Map<string, number>();
      for (const vm of vms.filter((v) => v.user === user)) {
        for (let hour = from; hour < to; hour += HOUR_MS) {
          if (vm.up(hour) > 0)
            byMachine.set(vm.machineName, (byMachine.get(vm.machineName) ?? 0) + vm.up(hour));
        }
      }
      return byMachine;
    },
  };
  return fleet;
}
