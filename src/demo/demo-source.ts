import { HOUR_MS } from '../domain/time';
import type { HourIntensity, RawInstanceHour } from '../domain/usage';
import type { CarbonIntensitySource } from '../ingest/ports';
import type { CpuSecondsSource, SourceHour } from '../ingest/ports';

/** A small research cloud for `serve --demo`: what a newcomer sees before pointing at Prometheus. */
export const DEMO_FLEET = [
  {
    host: 'idaaas-matlab-01',
    project: 'IDAaaS',
    machine: 'Artemis (Matlab)',
    cpus: 8,
    user: 'alice',
    experiment: 'RB2410001',
  },
  {
    host: 'idaaas-matlab-02',
    project: 'IDAaaS',
    machine: 'Artemis (Matlab)',
    cpus: 8,
    user: 'bob',
    experiment: 'RB2410001',
  },
  {
    host: 'idaaas-excitations-01',
    project: 'IDAaaS',
    machine: 'Excitations',
    cpus: 16,
    user: 'carol',
    experiment: 'RB2410077',
  },
  {
    host: 'idaaas-wish-01',
    project: 'IDAaaS',
    machine: 'WISH Single Crystal',
    cpus: 4,
    user: 'alice',
    experiment: 'RB2410102',
  },
  { host: 'clf-sim-01', project: 'CLF', machine: 'GPU Large', cpus: 32, user: 'dave', experiment: 'EPAC-3' },
  { host: 'clf-sim-02', project: 'CLF', machine: 'GPU Large', cpus: 32, user: 'erin', experiment: 'EPAC-3' },
  { host: 'clf-notebook-01', project: 'CLF', machine: 'Small', cpus: 2, user: 'erin', experiment: 'EPAC-4' },
  {
    host: 'diamond-cryoem-01',
    project: 'Diamond',
    machine: 'CryoEM Workstation',
    cpus: 24,
    user: 'frank',
    experiment: 'm32116',
  },
  {
    host: 'diamond-cryoem-02',
    project: 'Diamond',
    machine: 'CryoEM Workstation',
    cpus: 24,
    user: 'grace',
    experiment: 'm32117',
  },
  {
    host: 'diamond-small-01',
    project: 'Diamond',
    machine: 'Small',
    cpus: 2,
    user: 'frank',
    experiment: 'm32116',
  },
] as const;

export const DEMO_LABELS = {
  project: 'cloud_project_name',
  machine: 'machine_name',
  host: 'host',
  user: 'user',
  experiment: 'experiment',
} as const;

/** A stable pseudo-random fraction in [0, 1) from integers, so the demo is the same on every machine. */
function noise(...parts: number[]): number {
  let h = 2166136261;
  for (const part of parts) {
    h ^= part;
    h = Math.imul(h, 16777619) >>> 0;
    h ^= h >>> 13;
  }
  return (Math.imul(h, 2246822519) >>> 0) / 2 ** 32;
}

/** Busy share of CPU time: working hours busier, weekends quieter, each machine its own habit. */
function busyShare(index: number, hour: number): number {
  const d = new Date(hour);
  const utcHour = d.getUTCHours();
  const weekend = d.getUTCDay() === 0 || d.getUTCDay() === 6;
  const working = utcHour >= 8 && utcHour < 19 ? 0.45 : 0.08;
  const base = (weekend ? working * 0.4 : working) + 0.1 * noise(index, 7);
  return Math.min(0.98, base * (0.6 + 0.8 * noise(index, Math.floor(hour / HOUR_MS))));
}

const GIB = 2 ** 30;

/**
 * Embodied carbon of the demo's machine types, unless the config gives its own: made-up but of the
 * order of a server's (a tonne or two over four years), shared among the instances a host holds.
 */
export const DEMO_EMBODIED = {
  'Artemis (Matlab)': { embodied: { kgCo2eq: 1300, lifespanYears: 4, share: 0.125 } },
  Excitations: { embodied: { kgCo2eq: 1300, lifespanYears: 4, share: 0.25 } },
  'GPU Large': { embodied: { kgCo2eq: 2500, lifespanYears: 4, share: 0.5 } },
};

/**
 * Memory and disk of a machine up the whole hour (4 GiB and 40 GB a CPU, a part in use that moves
 * with the load), and its traffic: what node_exporter would have shown.
 */
function demoResources(cpus: number, index: number, hour: number) {
  const load = busyShare(index, hour);
  return {
    upHours: 1,
    memoryByteHours: Math.round(cpus * 4 * GIB * (0.25 + 0.5 * load)),
    diskByteHours: Math.round(cpus * 40e9 * (0.3 + 0.2 * noise(index, 11))),
    networkReceiveBytes: Math.round(2e9 * load * (0.5 + noise(index, Math.floor(hour / HOUR_MS), 1))),
    networkTransmitBytes: Math.round(4e8 * load * (0.5 + noise(index, Math.floor(hour / HOUR_MS), 2))),
  };
}

export function demoSource(): CpuSecondsSource {
  return {
    async fetchHours(fromHour, toHour) {
      const hours = new Map<number, SourceHour>();
      for (let hour = fromHour; hour < toHour; hour += HOUR_MS) {
        const rows: RawInstanceHour[] = DEMO_FLEET.map((vm, index) => {
          const capacity = vm.cpus * 3600;
          const busy = Math.round(capacity * busyShare(index, hour) * 1000) / 1000;
          return {
            hour,
            instance: `${vm.host}:9100`,
            labels: {
              instance: `${vm.host}:9100`,
              job: 'node',
              [DEMO_LABELS.project]: vm.project,
              [DEMO_LABELS.machine]: vm.machine,
              [DEMO_LABELS.host]: vm.host,
              [DEMO_LABELS.user]: vm.user,
              [DEMO_LABELS.experiment]: vm.experiment,
            },
            busyCpuSeconds: busy,
            idleCpuSeconds: Math.round((capacity - busy) * 1000) / 1000,
            ...demoResources(vm.cpus, index, hour),
          };
        });
        hours.set(hour, { status: 'ok', rows });
      }
      return hours;
    },
  };
}

/** A grid that is cleaner at night and in the middle of the day, as the GB grid often is. */
export function demoIntensity(): CarbonIntensitySource {
  return {
    async intensities(fromHour, toHour) {
      const out = new Map<number, HourIntensity>();
      for (let hour = fromHour; hour < toHour; hour += HOUR_MS) {
        const h = new Date(hour).getUTCHours();
        const daily =
          60 * Math.sin(((h - 4) / 24) * 2 * Math.PI) - 30 * Math.cos(((h - 13) / 12) * 2 * Math.PI);
        const gPerKwh = Math.round(170 + daily + 40 * noise(Math.floor(hour / HOUR_MS)));
        out.set(hour, { gPerKwh, estimated: false, source: 'demo' });
      }
      return out;
    },
  };
}
