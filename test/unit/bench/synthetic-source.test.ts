import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HOUR_MS } from '../../../src/domain/time';
import { benchFleet, writeOpenMetricsWindow } from '../../../src/bench/fleet';
import { benchFleetSource } from '../../../src/bench/synthetic-source';

/** Every sample of the OpenMetrics text: `metric{labels}` → Unix seconds → value. */
async function samples(file: string): Promise<Map<string, Map<number, number>>> {
  const series = new Map<string, Map<number, number>>();
  for (const line of (await readFile(file, 'utf8')).split('\n')) {
    const match = /^(\S+\{[^}]*\}) (\S+) (\d+)$/.exec(line);
    if (!match) continue;
    if (!series.has(match[1])) series.set(match[1], new Map());
    series.get(match[1])!.set(Number(match[3]), Number(match[2]));
  }
  return series;
}

describe('the bench fleet made without Prometheus', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'bench-synthetic-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('answers each instance-hour with what the backfilled series hold for it', async () => {
    const spec = benchFleet(3, 1);
    const file = join(dir, 'day.om');
    await writeOpenMetricsWindow(spec, spec.fromMs, spec.fromMs + 24 * HOUR_MS, file);
    const all = await samples(file);
    const hour = spec.fromMs + 5 * HOUR_MS;
    const [start, end] = [hour / 1000, (hour + HOUR_MS) / 1000];
    /** The one series of `metric` for the VM whose labels include `match`. */
    const series = (metric: string, match: string) =>
      [...all].find(
        ([name]) =>
          name.startsWith(`${metric}{`) && name.includes('instance="i0001:9100"') && name.includes(match),
      )![1];
    const growth = (metric: string, match: string) =>
      series(metric, match).get(end)! - series(metric, match).get(start)!;
    const gauge = (metric: string, match: string) => series(metric, match).get(start)!;

    const answer = await benchFleetSource(spec).fetchHours(hour, hour + HOUR_MS);
    const got = answer.get(hour);
    if (got?.status !== 'ok') throw new Error('expected an ok hour');
    expect(got.rows).toHaveLength(3);
    const row = got.rows.find((r) => r.instance === 'i0001:9100')!;
    expect(row.labels).toMatchObject({ cloud_project_name: 'project-000', machine_name: 'Excitations' });
    // Counters are written rounded; gauges exactly.
    expect(row.busyCpuSeconds).toBeCloseTo(growth('node_cpu_seconds_total', 'mode="user"'), 1);
    expect(row.idleCpuSeconds).toBeCloseTo(growth('node_cpu_seconds_total', 'mode="idle"'), 1);
    expect(row.memoryByteHours).toBe(
      gauge('node_memory_MemTotal_bytes', '') - gauge('node_memory_MemAvailable_bytes', ''),
    );
    expect(row.diskByteHours).toBe(
      gauge('node_filesystem_size_bytes', 'fstype="ext4"') -
        gauge('node_filesystem_avail_bytes', 'fstype="ext4"'),
    );
    expect(row.networkReceiveBytes).toBeCloseTo(
      growth('node_network_receive_bytes_total', 'device="eth0"'),
      -1,
    );
    expect(row.networkTransmitBytes).toBeCloseTo(
      growth('node_network_transmit_bytes_total', 'device="eth0"'),
      -1,
    );
    expect(row.upHours).toBe(1);
  });
});
