import { writeFile } from 'node:fs/promises';
import { HOUR_MS } from '../../../src/domain/time';

/**
 * A generated fleet of node_exporter VMs: who runs what, when, and at which CPU rates. Pure and
 * deterministic: the same spec always gives the same counters, so the OpenMetrics backfill and the
 * expected answers (expected.ts) are two readings of one function, `modeRates`.
 */

export const MODES = ['idle', 'user', 'system', 'iowait'] as const;
export type Mode = (typeof MODES)[number];
/** CPU-seconds per second of one CPU in each mode; they sum to at most 1. */
export type ModeRates = Record<Mode, number>;

export type LoadProfile =
  /**
   * Per 10-minute segment and CPU: busy fraction = mean + a diurnal swing peaking at 14:00 UTC
   * + uniform noise, clamped to [0, 1]; the busy part is split between user, system and iowait.
   */
  | { kind: 'seeded'; busyMean: number; busySwing: number; busyNoise: number }
  /** Literal rates for literal tests: segment k (counted from the epoch) uses segments[k % length]. */
  | { kind: 'cycle'; segments: ModeRates[] };

/** One boot of a VM: counters start at 0 at `bootMs` and are scraped until `lastScrapeMs`. */
export interface Run {
  bootMs: number;
  /**
   * The VM stops right after this scrape (the seconds after it are never observed, so they are not
   * usage either); null: still running at the end of the data.
   */
  lastScrapeMs: number | null;
}

/**
 * One virtual machine. Two VMs may share a hostname and `instance` (a host reused after a deletion);
 * they differ in their other labels, so Prometheus holds them as different series.
 *
 * Keep boots that open an hour's samples on a scrape (`bootMs` a multiple of the scrape interval):
 * the first sample is then 0 and Prometheus's `increase` is exact. A reboot inside an hour may boot
 * between scrapes: the counter-reset correction counts the seconds from boot to the first scrape.
 */
export interface VmSpec {
  /** A name for test output and look-ups, e.g. `reboot`. */
  name: string;
  /** The `instance` label, `<address>:9100`. */
  instance: string;
  /** The `host` label; null leaves it off, so the host is the instance without its port. */
  hostLabel: string | null;
  project: string;
  machineName: string;
  cpus: number;
  load: LoadProfile;
  /** In boot order, not overlapping. */
  runs: Run[];
  /** Scrapes missing while the VM runs: timestamps in [fromMs, toMs). */
  scrapeGaps: Array<{ fromMs: number; toMs: number }>;
  /** Events of the resource series (see resources.ts); every VM has memory, filesystems and network. */
  resourceEvents?: {
    /** A filesystem (`/data`, xfs) mounted at this scrape time. */
    filesystemAddedMs?: number;
    /** `eth0`'s counters restart from 0 at this instant (between scrapes), the VM running on. */
    interfaceResetMs?: number;
  };
}

/** A workspace registry record (contract section 1), times as epoch ms. */
export interface RegistryRecord {
  hostname: string;
  owner: string | null;
  experiment: string | null;
  createdMs: number;
  deletedMs: number | null;
}

export interface FleetSpec {
  seed: number;
  scrapeIntervalMs: number;
  /** Rates are constant inside each segment; segments are aligned to the epoch. */
  segmentMs: number;
  /** Scrapes cover [dataFromMs, dataToMs]; both are multiples of the scrape interval. */
  dataFromMs: number;
  dataToMs: number;
  /** The whole UTC days (`YYYY-MM-DD`) tests ask about; the data has margin either side. */
  days: string[];
  vms: VmSpec[];
  registry: RegistryRecord[];
}

/** FNV-1a: a stable 32-bit seed from a string key. */
export function hash32(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** mulberry32: a small seeded PRNG with uniform output in [0, 1). */
export function mulberry32(seed: number): () => number {
  let state = seed;
  return () => {
    state = (state + 0x6d2b79f5) | 0;
    let t = Math.imul(state ^ (state >>> 15), 1 | state);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const clamp01 = (x: number): number => Math.min(1, Math.max(0, x));

/**
 * The rates of one CPU of a VM in segment `segment` (= floor(t / segmentMs)). Random access by
 * hashing (seed, vm, cpu, segment), so any instant's rate is known without generating history.
 */
export function modeRates(spec: FleetSpec, vm: VmSpec, cpu: number, segment: number): ModeRates {
  const load = vm.load;
  if (load.kind === 'cycle') return load.segments[segment % load.segments.length];
  const random = mulberry32(hash32(`${spec.seed}|${vm.name}|${cpu}|${segment}`));
  const hourOfDay = ((segment * spec.segmentMs) % (24 * HOUR_MS)) / HOUR_MS;
  const diurnal = Math.sin((2 * Math.PI * (hourOfDay - 8)) / 24);
  const busy = clamp01(load.busyMean + load.busySwing * diurnal + load.busyNoise * (2 * random() - 1));
  const userWeight = 0.4 + random();
  const systemWeight = 0.05 + 0.3 * random();
  const iowaitWeight = 0.15 * random();
  const weights = userWeight + systemWeight + iowaitWeight;
  const user = (busy * userWeight) / weights;
  const system = (busy * systemWeight) / weights;
  // The remainder keeps busy exact; max() stops a rounding crumb below 0 from reading as a counter reset.
  return { idle: 1 - busy, user, system, iowait: Math.max(0, busy - user - system) };
}

/** CPU-seconds of one CPU in each mode over [fromMs, toMs]: the exact integral of `modeRates`. */
export function cpuSeconds(
  spec: FleetSpec,
  vm: VmSpec,
  cpu: number,
  fromMs: number,
  toMs: number,
): ModeRates {
  const seconds: ModeRates = { idle: 0, user: 0, system: 0, iowait: 0 };
  for (let segment = Math.floor(fromMs / spec.segmentMs); segment * spec.segmentMs < toMs; segment++) {
    const start = Math.max(fromMs, segment * spec.segmentMs);
    const end = Math.min(toMs, (segment + 1) * spec.segmentMs);
    const rates = modeRates(spec, vm, cpu, segment);
    for (const mode of MODES) seconds[mode] += (rates[mode] * (end - start)) / 1000;
  }
  return seconds;
}

/** The part of a run inside the data: from boot (or the data's start) to its last scrape (or the data's end). */
export function observedSpan(spec: FleetSpec, run: Run): { fromMs: number; toMs: number } {
  return {
    fromMs: Math.max(run.bootMs, spec.dataFromMs),
    toMs: Math.min(run.lastScrapeMs ?? spec.dataToMs, spec.dataToMs),
  };
}

/** Every scrape of a VM in time order, with the run it belongs to. */
export function* scrapes(spec: FleetSpec, vm: VmSpec): Generator<{ timeMs: number; run: Run }> {
  const interval = spec.scrapeIntervalMs;
  for (const run of vm.runs) {
    const { fromMs, toMs } = observedSpan(spec, run);
    for (let timeMs = Math.ceil(fromMs / interval) * interval; timeMs <= toMs; timeMs += interval) {
      if (!vm.scrapeGaps.some((gap) => timeMs >= gap.fromMs && timeMs < gap.toMs)) yield { timeMs, run };
    }
  }
}

export function vmNamed(spec: FleetSpec, name: string): VmSpec {
  const vm = spec.vms.find((candidate) => candidate.name === name);
  if (!vm) throw new Error(`no VM named ${name} in the fleet`);
  return vm;
}

const at = (iso: string): number => Date.parse(iso);

/**
 * The small fleet of the integration tests: 2025-09-21 and 2025-09-22 (UTC), data from
 * 2025-09-20T22:00Z to 2025-09-23T02:00Z. (These dates keep the data inside one 162h-aligned TSDB
 * block, so Prometheus has nothing to compact.) Events:
 * - `reboot`: last scrape 2025-09-21T13:17, boots again 13:19:30 (counters from 0).
 * - `scrape-gap`: no scrapes 2025-09-21T15:30–15:50 (20 scrapes) while it runs on.
 * - `starts-mid-day`: boots 2025-09-21T10:20; its registry record starts at 10:00 exactly
 *   (`created_time` equal to the hour's start counts).
 * - `deleted-mid-day`: last scrape 2025-09-22T16:50, never again.
 * - `reused-first` / `reused-second`: one host (`172.16.103.32:9100`), two VMs: the first's last
 *   scrape is 2025-09-22T11:50 and its record ends 12:00 exactly (`deleted_time` is exclusive); the
 *   second boots 12:10 with another machine type, CPU count, owner and experiment.
 * - `no-host-label`: no `host` label, so its host is `host-172-16-104-41`.
 * - `unregistered`: no registry record (user and experiment "unknown").
 * - `scrape-gap`'s record has `experiment: null`; `steady-matlab`'s host has an older record too.
 * - `steady-matlab` mounts a filesystem (`/data`) at 2025-09-21T12:20; `unregistered`'s `eth0`
 *   counters reset at 2025-09-21T14:23:30 (a driver reload: the VM runs on).
 * Loads run from mostly idle (`no-host-label`) to mostly busy (`deleted-mid-day`, often 100 %).
 */
export function defaultFleet(): FleetSpec {
  const seeded = (busyMean: number, busySwing: number, busyNoise: number): LoadProfile => ({
    kind: 'seeded',
    busyMean,
    busySwing,
    busyNoise,
  });
  const vm = (fields: Omit<VmSpec, 'scrapeGaps'> & Partial<Pick<VmSpec, 'scrapeGaps'>>): VmSpec => ({
    scrapeGaps: [],
    ...fields,
  });
  const running = (bootIso: string): Run[] => [{ bootMs: at(bootIso), lastScrapeMs: null }];
  return {
    seed: 20250921,
    scrapeIntervalMs: 60_000,
    segmentMs: 600_000,
    dataFromMs: at('2025-09-20T22:00:00Z'),
    dataToMs: at('2025-09-23T02:00:00Z'),
    days: ['2025-09-21', '2025-09-22'],
    vms: [
      vm({
        name: 'steady-matlab',
        instance: '172.16.101.11:9100',
        hostLabel: 'host-172-16-101-11',
        project: 'IDAaaS',
        machineName: 'Artemis (Matlab)',
        cpus: 4,
        load: seeded(0.35, 0.25, 0.2),
        runs: running('2025-09-12T08:03:17Z'),
        resourceEvents: { filesystemAddedMs: at('2025-09-21T12:20:00Z') },
      }),
      vm({
        name: 'reboot',
        instance: '172.16.101.12:9100',
        hostLabel: 'host-172-16-101-12',
        project: 'IDAaaS',
        machineName: 'Excitations',
        cpus: 2,
        load: seeded(0.5, 0.3, 0.35),
        runs: [
          { bootMs: at('2025-09-15T09:41:05Z'), lastScrapeMs: at('2025-09-21T13:17:00Z') },
          { bootMs: at('2025-09-21T13:19:30Z'), lastScrapeMs: null },
        ],
      }),
      vm({
        name: 'scrape-gap',
        instance: '172.16.102.21:9100',
        hostLabel: 'host-172-16-102-21',
        project: 'ISIS-Muon',
        machineName: 'Muon Analysis',
        cpus: 3,
        load: seeded(0.25, 0.15, 0.2),
        runs: running('2025-09-18T16:20:44Z'),
        scrapeGaps: [{ fromMs: at('2025-09-21T15:30:00Z'), toMs: at('2025-09-21T15:50:00Z') }],
      }),
      vm({
        name: 'starts-mid-day',
        instance: '172.16.102.22:9100',
        hostLabel: 'host-172-16-102-22',
        project: 'ISIS-Muon',
        machineName: 'Artemis (Matlab)',
        cpus: 2,
        load: seeded(0.6, 0.2, 0.3),
        runs: running('2025-09-21T10:20:00Z'),
      }),
      vm({
        name: 'deleted-mid-day',
        instance: '172.16.103.31:9100',
        hostLabel: 'host-172-16-103-31',
        project: 'CLF-Octopus',
        machineName: 'Octopus (GPU)',
        cpus: 4,
        load: seeded(0.9, 0.1, 0.2),
        runs: [{ bootMs: at('2025-09-19T07:12:55Z'), lastScrapeMs: at('2025-09-22T16:50:00Z') }],
      }),
      vm({
        name: 'reused-first',
        instance: '172.16.103.32:9100',
        hostLabel: 'host-172-16-103-32',
        project: 'CLF-Octopus',
        machineName: 'Excitations',
        cpus: 2,
        load: seeded(0.4, 0.2, 0.3),
        runs: [{ bootMs: at('2025-09-17T11:00:21Z'), lastScrapeMs: at('2025-09-22T11:50:00Z') }],
      }),
      vm({
        name: 'reused-second',
        instance: '172.16.103.32:9100',
        hostLabel: 'host-172-16-103-32',
        project: 'CLF-Octopus',
        machineName: 'Artemis (Matlab)',
        cpus: 4,
        load: seeded(0.7, 0.2, 0.3),
        runs: running('2025-09-22T12:10:00Z'),
      }),
      vm({
        name: 'no-host-label',
        instance: 'host-172-16-104-41:9100',
        hostLabel: null,
        project: 'IDAaaS',
        machineName: 'Muon Analysis',
        cpus: 3,
        load: seeded(0.04, 0.02, 0.05),
        runs: running('2025-09-10T13:30:00Z'),
      }),
      vm({
        name: 'unregistered',
        instance: '172.16.104.42:9100',
        hostLabel: 'host-172-16-104-42',
        project: 'ISIS-Muon',
        machineName: 'Excitations',
        cpus: 2,
        load: seeded(0.3, 0.3, 0.3),
        runs: running('2025-09-16T00:05:09Z'),
        resourceEvents: { interfaceResetMs: at('2025-09-21T14:23:30Z') },
      }),
    ],
    registry: [
      record('host-172-16-101-11', 'zoe', 'RB2409999', '2025-08-01T09:00:00Z', '2025-09-12T07:00:00Z'),
      record('host-172-16-101-11', 'alice', 'RB2510001', '2025-09-12T07:55:00Z', null),
      record('host-172-16-101-12', 'bob', 'RB2510002', '2025-09-15T09:30:00Z', null),
      record('host-172-16-102-21', 'carol', null, '2025-09-18T16:10:00Z', null),
      record('host-172-16-102-22', 'dave', 'RB2510003', '2025-09-21T10:00:00Z', null),
      record('host-172-16-103-31', 'erin', 'RB2510004', '2025-09-19T07:00:00Z', '2025-09-22T16:51:10Z'),
      record('host-172-16-103-32', 'frank', 'RB2510005', '2025-09-17T10:50:00Z', '2025-09-22T12:00:00Z'),
      record('host-172-16-103-32', 'grace', 'RB2510006', '2025-09-22T12:00:00Z', null),
      record('host-172-16-104-41', 'heidi', 'RB2510007', '2025-09-10T13:20:00Z', null),
    ],
  };
}

function record(
  hostname: string,
  owner: string,
  experiment: string | null,
  createdIso: string,
  deletedIso: string | null,
): RegistryRecord {
  return {
    hostname,
    owner,
    experiment,
    createdMs: at(createdIso),
    deletedMs: deletedIso === null ? null : at(deletedIso),
  };
}

/** The workspace registry file the service reads (`workspaces.file`, contract section 1). */
export async function writeRegistry(spec: FleetSpec, file: string): Promise<void> {
  const iso = (ms: number | null): string | null => (ms === null ? null : new Date(ms).toISOString());
  const records = spec.registry.map((r) => ({
    hostname: r.hostname,
    owner: r.owner,
    experiment: r.experiment,
    created_time: iso(r.createdMs),
    deleted_time: iso(r.deletedMs),
  }));
  await writeFile(file, `${JSON.stringify(records, null, 2)}\n`);
}
