import { createWriteStream } from 'node:fs';
import { once } from 'node:events';
import { cpuSeconds, MODES, scrapes, type FleetSpec, type Run, type VmSpec } from './fleet';
import {
  counterStartMs,
  DEVICES,
  filesystemsOf,
  filesystemUsed,
  memoryInUse,
  memTotalBytes,
  networkBytes,
  type Device,
  type Direction,
} from './resources';

/**
 * The fleet as OpenMetrics text for `promtool tsdb create-blocks-from openmetrics`.
 *
 * Ordering: promtool 2.42 silently drops a sample older than its series' previous one, and rejects
 * (out of bounds) one older than half a block before the newest sample appended. So each family is
 * written whole (families contiguous, as OpenMetrics wants) in time order: every VM's samples at
 * t, then at t + 1 min. The caller compares the sample count returned with promtool's.
 */

const escapeLabelValue = (value: string): string =>
  value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');

/** The scrape target's labels, as node_exporter's series carry them. */
function targetLabels(vm: VmSpec): string {
  const labels: Array<[string, string]> = [
    ['instance', vm.instance],
    ['job', 'node'],
    ...(vm.hostLabel === null ? [] : [['host', vm.hostLabel] as [string, string]]),
    ['cloud_project_name', vm.project],
    ['machine_name', vm.machineName],
  ];
  return labels.map(([name, value]) => `${name}="${escapeLabelValue(value)}"`).join(',');
}

/** Buffers text and writes it in large chunks, waiting when the stream is full. */
function chunkedWriter(file: string) {
  const stream = createWriteStream(file);
  let pending = '';
  const flush = async (): Promise<void> => {
    const chunk = pending;
    pending = '';
    if (!stream.write(chunk)) await once(stream, 'drain');
  };
  return {
    async write(text: string): Promise<void> {
      pending += text;
      if (pending.length >= 1 << 20) await flush();
    },
    async close(): Promise<void> {
      await flush();
      stream.end();
      await once(stream, 'finish');
    },
  };
}

/** Each VM's scrapes walked in step with the clock: `at(t)` gives the run scraped at t, if any. */
function scrapeCursor(spec: FleetSpec, vm: VmSpec) {
  const timeline = [...scrapes(spec, vm)];
  let next = 0;
  return (timeMs: number): Run | undefined => {
    if (next >= timeline.length || timeline[next].timeMs !== timeMs) return undefined;
    return timeline[next++].run;
  };
}

type Writer = ReturnType<typeof chunkedWriter>;

/** One series of a family: its sample line's prefix, and its value at a scrape of a run (none: not exposed). */
interface ResourceSeries {
  prefix: string;
  value(timeMs: number, run: Run): number | undefined;
}

/** A family written whole, in time order (see above); returns the samples written. */
async function writeFamily(
  spec: FleetSpec,
  out: Writer,
  header: { name: string; type: 'gauge' | 'counter'; help: string },
  seriesOf: (vm: VmSpec) => ResourceSeries[],
): Promise<number> {
  await out.write(`# HELP ${header.name} ${header.help}\n# TYPE ${header.name} ${header.type}\n`);
  const family = spec.vms.map((vm) => ({ scrapedRunAt: scrapeCursor(spec, vm), series: seriesOf(vm) }));
  let samples = 0;
  for (let timeMs = spec.dataFromMs; timeMs <= spec.dataToMs; timeMs += spec.scrapeIntervalMs) {
    let lines = '';
    for (const { scrapedRunAt, series } of family) {
      const run = scrapedRunAt(timeMs);
      if (!run) continue;
      for (const { prefix, value } of series) {
        const v = value(timeMs, run);
        if (v === undefined) continue;
        lines += `${prefix}${v} ${timeMs / 1000}\n`;
        samples++;
      }
    }
    await out.write(lines);
  }
  return samples;
}

/**
 * A network counter read at each scrape: the bytes since its last start (boot, or a reset of the
 * device), added up scrape by scrape rather than integrated from boot every time.
 */
function counterReading(spec: FleetSpec, vm: VmSpec, device: Device, direction: Direction) {
  let last: { startMs: number; timeMs: number; bytes: number } | undefined;
  return (timeMs: number, run: Run): number => {
    const startMs = counterStartMs(vm, run, device, timeMs);
    const sinceMs = last?.startMs === startMs ? last.timeMs : startMs;
    const bytes =
      (last?.startMs === startMs ? last.bytes : 0) +
      networkBytes(spec, vm, device, direction, sinceMs, timeMs);
    last = { startMs, timeMs, bytes };
    return bytes;
  };
}

/** Memory, filesystems and network (resources.ts): node_exporter's names, labels and types. */
async function writeResourceFamilies(spec: FleetSpec, out: Writer): Promise<number> {
  const segment = (timeMs: number) => Math.floor(timeMs / spec.segmentMs);
  const gauge = (name: string, help: string) => ({ name, type: 'gauge' as const, help });
  let samples = 0;
  samples += await writeFamily(
    spec,
    out,
    gauge('node_memory_MemTotal_bytes', 'Memory information field MemTotal_bytes.'),
    (vm) => [{ prefix: `node_memory_MemTotal_bytes{${targetLabels(vm)}} `, value: () => memTotalBytes(vm) }],
  );
  samples += await writeFamily(
    spec,
    out,
    gauge('node_memory_MemAvailable_bytes', 'Memory information field MemAvailable_bytes.'),
    (vm) => [
      {
        prefix: `node_memory_MemAvailable_bytes{${targetLabels(vm)}} `,
        value: (t) => memTotalBytes(vm) - memoryInUse(spec, vm, segment(t)),
      },
    ],
  );
  for (const [name, reading] of [
    ['node_filesystem_size_bytes', 'size'],
    ['node_filesystem_avail_bytes', 'avail'],
  ] as const) {
    samples += await writeFamily(spec, out, gauge(name, 'Filesystem size or free space in bytes.'), (vm) =>
      filesystemsOf(vm).map((fs) => ({
        prefix: `${name}{${targetLabels(vm)},device="${fs.device}",fstype="${fs.fstype}",mountpoint="${fs.mountpoint}"} `,
        value: (t: number) =>
          fs.fromMs !== undefined && t < fs.fromMs
            ? undefined
            : reading === 'size'
              ? fs.sizeBytes
              : fs.sizeBytes - filesystemUsed(spec, vm, fs, segment(t)),
      })),
    );
  }
  for (const direction of ['receive', 'transmit'] as const satisfies readonly Direction[]) {
    const family = `node_network_${direction}_bytes`;
    const header = {
      name: family,
      type: 'counter' as const,
      help: `Network device statistic ${direction}_bytes.`,
    };
    samples += await writeFamily(spec, out, header, (vm) =>
      DEVICES.map((device) => ({
        prefix: `${family}_total{${targetLabels(vm)},device="${device}"} `,
        value: counterReading(spec, vm, device, direction),
      })),
    );
  }
  return samples;
}

/** Writes the fleet's `node_cpu_seconds_total`, `node_boot_time_seconds` and resource series; returns the samples written. */
export async function writeOpenMetrics(spec: FleetSpec, file: string): Promise<number> {
  const out = chunkedWriter(file);
  const times: number[] = [];
  for (let t = spec.dataFromMs; t <= spec.dataToMs; t += spec.scrapeIntervalMs) times.push(t);
  let samples = 0;

  await out.write('# HELP node_cpu_seconds Seconds the CPUs spent in each mode.\n');
  await out.write('# TYPE node_cpu_seconds counter\n');
  const cpuFamily = spec.vms.map((vm) => {
    const labels = targetLabels(vm);
    return {
      vm,
      scrapedRunAt: scrapeCursor(spec, vm),
      prefixes: Array.from({ length: vm.cpus }, (_, cpu) =>
        MODES.map((mode) => `node_cpu_seconds_total{${labels},cpu="${cpu}",mode="${mode}"} `),
      ),
      counters: Array.from({ length: vm.cpus }, () => MODES.map(() => 0)),
      run: undefined as Run | undefined,
      lastScrapeMs: 0,
    };
  });
  for (const timeMs of times) {
    let lines = '';
    for (const series of cpuFamily) {
      const run = series.scrapedRunAt(timeMs);
      if (!run) continue;
      // A new run reads its seconds since boot; a continuing one adds the seconds since its last scrape.
      const continuing = run === series.run;
      const sinceMs = continuing ? series.lastScrapeMs : run.bootMs;
      for (let cpu = 0; cpu < series.vm.cpus; cpu++) {
        const seconds = cpuSeconds(spec, series.vm, cpu, sinceMs, timeMs);
        MODES.forEach((mode, m) => {
          series.counters[cpu][m] = (continuing ? series.counters[cpu][m] : 0) + seconds[mode];
          lines += `${series.prefixes[cpu][m]}${series.counters[cpu][m]} ${timeMs / 1000}\n`;
          samples++;
        });
      }
      series.run = run;
      series.lastScrapeMs = timeMs;
    }
    await out.write(lines);
  }

  await out.write('# HELP node_boot_time_seconds Node boot time, in unixtime.\n');
  await out.write('# TYPE node_boot_time_seconds gauge\n');
  const bootFamily = spec.vms.map((vm) => ({
    scrapedRunAt: scrapeCursor(spec, vm),
    prefix: `node_boot_time_seconds{${targetLabels(vm)}} `,
  }));
  for (const timeMs of times) {
    let lines = '';
    for (const series of bootFamily) {
      const run = series.scrapedRunAt(timeMs);
      if (!run) continue;
      lines += `${series.prefix}${run.bootMs / 1000} ${timeMs / 1000}\n`;
      samples++;
    }
    await out.write(lines);
  }

  samples += await writeResourceFamilies(spec, out);

  await out.write('# EOF\n');
  await out.close();
  return samples;
}
