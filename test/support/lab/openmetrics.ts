import { createWriteStream } from 'node:fs';
import { once } from 'node:events';
import { cpuSeconds, MODES, scrapes, type FleetSpec, type Run, type VmSpec } from './fleet';

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

/** Writes the fleet's `node_cpu_seconds_total` and `node_boot_time_seconds`; returns the samples written. */
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

  await out.write('# EOF\n');
  await out.close();
  return samples;
}
