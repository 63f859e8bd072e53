import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { DAY_MS, HOUR_MS } from '../domain/time';

/**
 * The benchmark fleet: many node_exporter VMs running for a year, as cheap to generate as text can
 * be. Unlike the test lab's fleet (test/support/lab/fleet.ts: few VMs, reboots, gaps, exact expected
 * figures) it aims at size: each VM has one CPU counter per mode, a load constant within each hour,
 * and a coarse scrape interval. Beside CPU it has node_exporter's memory, filesystem and network
 * series, so the bench asks Prometheus what a real fleet makes it answer. Every VM runs the whole
 * year and is registered, so every level has many keys.
 */
export interface BenchFleetSpec {
  instances: number;
  /** Whole UTC days, from `fromMs`. */
  days: number;
  /** Start of the first day (UTC midnight). */
  fromMs: number;
  /** A divisor of an hour: every hour window then holds samples on both its edges. */
  scrapeIntervalMs: number;
  /** VMs per project; the 50 keys of the usageSeriesMany bench are instances. */
  instancesPerProject: number;
  seed: number;
}

export const BENCH_MODES = ['idle', 'user'] as const;
export const MACHINE_TYPES = ['Artemis (Matlab)', 'Excitations', 'Muon Analysis', 'Octopus (GPU)'];

export function benchFleet(instances: number, days: number): BenchFleetSpec {
  return {
    instances,
    days,
    fromMs: Date.UTC(2025, 0, 1),
    scrapeIntervalMs: 15 * 60_000,
    instancesPerProject: 20,
    seed: 20250101,
  };
}

export const fleetToMs = (spec: BenchFleetSpec): number => spec.fromMs + spec.days * DAY_MS;

const pad = (n: number, width: number): string => String(n).padStart(width, '0');

export interface BenchVm {
  /** `i0042:9100`; its host is `i0042`. */
  instance: string;
  host: string;
  project: string;
  machineName: string;
  user: string;
  experiment: string;
}

export function benchVm(spec: BenchFleetSpec, index: number): BenchVm {
  const host = `i${pad(index, 4)}`;
  return {
    instance: `${host}:9100`,
    host,
    project: `project-${pad(Math.floor(index / spec.instancesPerProject), 3)}`,
    machineName: MACHINE_TYPES[index % MACHINE_TYPES.length],
    user: `user-${pad(index % Math.max(1, Math.ceil(spec.instances / 4)), 4)}`,
    experiment: `RB${pad(index % Math.max(1, Math.ceil(spec.instances / 8)), 7)}`,
  };
}

/** A deterministic busy fraction in [0.02, 0.98] for a VM in an hour: an integer hash, no PRNG state. */
export function busyFraction(seed: number, vm: number, hourIndex: number): number {
  let h = Math.imul(seed ^ Math.imul(vm + 1, 0x9e3779b1), 0x85ebca6b) ^ Math.imul(hourIndex + 1, 0xc2b2ae35);
  h ^= h >>> 16;
  h = Math.imul(h, 0x7feb352d);
  h ^= h >>> 15;
  const noise = (h >>> 0) / 4294967296;
  const base = 0.1 + 0.6 * ((vm % 7) / 6);
  const diurnal = 0.15 * Math.sin((2 * Math.PI * ((hourIndex % 24) - 8)) / 24);
  return Math.min(0.98, Math.max(0.02, base + diurnal + 0.2 * (noise - 0.5)));
}

/** The registry (contract section 1) with one record per VM, created before the data starts. */
export async function writeBenchRegistry(spec: BenchFleetSpec, file: string): Promise<void> {
  const created = new Date(spec.fromMs - 30 * DAY_MS).toISOString();
  const records = Array.from({ length: spec.instances }, (_, i) => {
    const vm = benchVm(spec, i);
    return {
      hostname: vm.host,
      owner: vm.user,
      experiment: vm.experiment,
      created_time: created,
      deleted_time: null,
    };
  });
  await writeFile(file, JSON.stringify(records));
}

/** Samples in [fromMs, toMs] (both ends scraped), for the promtool cross-check. */
export function samplesBetween(spec: BenchFleetSpec, fromMs: number, toMs: number): number {
  const scrapes = Math.floor((toMs - fromMs) / spec.scrapeIntervalMs) + 1;
  const perScrape = BENCH_MODES.length + RESOURCE_FAMILIES.reduce((n, family) => n + family.series.length, 0);
  return scrapes * spec.instances * perScrape;
}

const GB = 1e9;

/**
 * The resource series node_exporter gives beside CPU (contract section 8), one family at a time:
 * memory, two filesystems (one a tmpfs the default `excludeFstypes` leaves out), and the traffic of
 * two devices (one `lo`, left out by default). Gauges are constant within an hour; counters grow at
 * a rate constant within an hour. All follow the VM's busy fraction, so they are not all alike.
 */
export interface ResourceFamily {
  /** The `# TYPE` line's name and kind. */
  name: string;
  kind: 'gauge' | 'counter';
  /** Per series: the metric name and its labels beyond the VM's. */
  series: ReadonlyArray<{ metric: string; labels: string }>;
  /** A gauge's value, or a counter's rate per second, of series `s` of VM `vm` in hour `hourIndex`. */
  value(vm: number, s: number, busy: number): number;
}

const memTotal = (vm: number) => 4 * GB * (1 + (vm % 4));
export const RESOURCE_FAMILIES: readonly ResourceFamily[] = [
  {
    name: 'node_memory_MemTotal_bytes',
    kind: 'gauge',
    series: [{ metric: 'node_memory_MemTotal_bytes', labels: '' }],
    value: (vm) => memTotal(vm),
  },
  {
    name: 'node_memory_MemAvailable_bytes',
    kind: 'gauge',
    series: [{ metric: 'node_memory_MemAvailable_bytes', labels: '' }],
    value: (vm, _s, busy) => Math.round(memTotal(vm) * (0.7 - 0.5 * busy)),
  },
  {
    name: 'node_filesystem_size_bytes',
    kind: 'gauge',
    series: [
      { metric: 'node_filesystem_size_bytes', labels: ',device="/dev/vda1",fstype="ext4",mountpoint="/"' },
      { metric: 'node_filesystem_size_bytes', labels: ',device="tmpfs",fstype="tmpfs",mountpoint="/run"' },
    ],
    value: (_vm, s) => (s === 0 ? 100 * GB : GB),
  },
  {
    name: 'node_filesystem_avail_bytes',
    kind: 'gauge',
    series: [
      { metric: 'node_filesystem_avail_bytes', labels: ',device="/dev/vda1",fstype="ext4",mountpoint="/"' },
      { metric: 'node_filesystem_avail_bytes', labels: ',device="tmpfs",fstype="tmpfs",mountpoint="/run"' },
    ],
    value: (vm, s, busy) => (s === 0 ? Math.round(GB * (60 - (vm % 30) - 10 * busy)) : 0.9 * GB),
  },
  {
    name: 'node_network_receive_bytes',
    kind: 'counter',
    series: [
      { metric: 'node_network_receive_bytes_total', labels: ',device="eth0"' },
      { metric: 'node_network_receive_bytes_total', labels: ',device="lo"' },
    ],
    value: (_vm, s, busy) => (s === 0 ? 2e6 * busy : 1e4),
  },
  {
    name: 'node_network_transmit_bytes',
    kind: 'counter',
    series: [
      { metric: 'node_network_transmit_bytes_total', labels: ',device="eth0"' },
      { metric: 'node_network_transmit_bytes_total', labels: ',device="lo"' },
    ],
    value: (_vm, s, busy) => (s === 0 ? 5e5 * busy : 1e4),
  },
];

/**
 * Writes the counters scraped in [fromMs, toMs] (multiples of the scrape interval) as OpenMetrics,
 * one family, in time order (promtool drops a sample older than its series' last one). Counters
 * are computed from the start of the data, so windows written to separate files join up.
 * Returns the samples written.
 */
export async function writeOpenMetricsWindow(
  spec: BenchFleetSpec,
  fromMs: number,
  toMs: number,
  file: string,
): Promise<number> {
  const stream = createWriteStream(file);
  const write = async (text: string): Promise<void> => {
    if (!stream.write(text)) await once(stream, 'drain');
  };
  const interval = spec.scrapeIntervalMs;
  const intervalSeconds = interval / 1000;
  const prefixes = Array.from({ length: spec.instances }, (_, i) => {
    const vm = benchVm(spec, i);
    const labels = `instance="${vm.instance}",job="node",cloud_project_name="${vm.project}",machine_name="${vm.machineName}",cpu="0"`;
    return BENCH_MODES.map((mode) => `node_cpu_seconds_total{${labels},mode="${mode}"} `);
  });
  // Counters at fromMs: the integral of the hourly rates since the data began. Each VM boots at the
  // data's start, so its first sample reads 0 and increase() over the first hour is exact.
  const idle = new Float64Array(spec.instances);
  const busy = new Float64Array(spec.instances);
  for (let i = 0; i < spec.instances; i++) {
    for (let t = spec.fromMs; t < fromMs; t += HOUR_MS) {
      const seconds = Math.min(HOUR_MS, fromMs - t) / 1000;
      const b = busyFraction(spec.seed, i, (t - spec.fromMs) / HOUR_MS);
      busy[i] += b * seconds;
      idle[i] += (1 - b) * seconds;
    }
  }
  let samples = 0;
  await write(
    '# HELP node_cpu_seconds Seconds the CPUs spent in each mode.\n# TYPE node_cpu_seconds counter\n',
  );
  for (let t = fromMs; t <= toMs; t += interval) {
    if (t > fromMs) {
      // The interval (t − interval, t] lies inside one hour, since the interval divides an hour.
      const hourIndex = Math.floor((t - interval - spec.fromMs) / HOUR_MS);
      for (let i = 0; i < spec.instances; i++) {
        const b = busyFraction(spec.seed, i, hourIndex);
        busy[i] += b * intervalSeconds;
        idle[i] += (1 - b) * intervalSeconds;
      }
    }
    const stamp = ` ${t / 1000}\n`;
    let lines = '';
    for (let i = 0; i < spec.instances; i++) {
      lines += `${prefixes[i][0]}${idle[i].toFixed(2)}${stamp}${prefixes[i][1]}${busy[i].toFixed(2)}${stamp}`;
    }
    samples += spec.instances * 2;
    await write(lines);
  }
  for (const family of RESOURCE_FAMILIES) samples += await writeFamily(spec, family, fromMs, toMs, write);
  await write('# EOF\n');
  stream.end();
  await once(stream, 'finish');
  return samples;
}

/**
 * One resource family's samples in [fromMs, toMs], in time order, after the CPU family (an
 * OpenMetrics family's samples must be together). A counter starts at 0 with the data and grows
 * by its hourly rate, so windows written to separate files join up.
 */
async function writeFamily(
  spec: BenchFleetSpec,
  family: ResourceFamily,
  fromMs: number,
  toMs: number,
  write: (text: string) => Promise<void>,
): Promise<number> {
  const interval = spec.scrapeIntervalMs;
  const prefixes = Array.from({ length: spec.instances }, (_, i) => {
    const vm = benchVm(spec, i);
    const labels = `instance="${vm.instance}",job="node",cloud_project_name="${vm.project}",machine_name="${vm.machineName}"`;
    return family.series.map(({ metric, labels: own }) => `${metric}{${labels}${own}} `);
  });
  const width = family.series.length;
  const counters = new Float64Array(spec.instances * width);
  /** Counters grown over [start, end), an hour's rate at a time. */
  const advance = (start: number, end: number) => {
    for (let t = start; t < end;) {
      const hourIndex = Math.floor((t - spec.fromMs) / HOUR_MS);
      const next = Math.min(end, spec.fromMs + (hourIndex + 1) * HOUR_MS);
      for (let i = 0; i < spec.instances; i++) {
        const busy = busyFraction(spec.seed, i, hourIndex);
        for (let s = 0; s < width; s++)
          counters[i * width + s] += (family.value(i, s, busy) * (next - t)) / 1000;
      }
      t = next;
    }
  };
  if (family.kind === 'counter') advance(spec.fromMs, fromMs);
  await write(`# TYPE ${family.name} ${family.kind}\n`);
  for (let t = fromMs; t <= toMs; t += interval) {
    if (family.kind === 'counter' && t > fromMs) advance(t - interval, t);
    // A gauge scraped at t reads the hour that holds t (the one starting at t, on the hour).
    const hourIndex = Math.floor((t - spec.fromMs) / HOUR_MS);
    const stamp = ` ${t / 1000}\n`;
    let lines = '';
    for (let i = 0; i < spec.instances; i++) {
      const busy = family.kind === 'gauge' ? busyFraction(spec.seed, i, hourIndex) : 0;
      for (let s = 0; s < width; s++) {
        const value = family.kind === 'gauge' ? family.value(i, s, busy) : counters[i * width + s];
        lines += `${prefixes[i][s]}${value.toFixed(0)}${stamp}`;
      }
    }
    await write(lines);
  }
  return (Math.floor((toMs - fromMs) / interval) + 1) * spec.instances * width;
}
