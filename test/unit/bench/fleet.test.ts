import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HOUR_MS } from '../../../src/domain/time';
import {
  benchFleet,
  busyFraction,
  samplesBetween,
  writeBenchRegistry,
  writeOpenMetricsWindow,
} from '../../../src/bench/fleet';

describe('bench fleet', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'bench-fleet-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  /** Counter value by series (instance, mode) and Unix seconds. */
  async function counters(file: string): Promise<Map<string, Map<number, number>>> {
    const series = new Map<string, Map<number, number>>();
    for (const line of (await readFile(file, 'utf8')).split('\n')) {
      const match = /instance="([^"]+)".*mode="(\w+)"\} (\S+) (\d+)$/.exec(line);
      if (!match) continue;
      const key = `${match[1]} ${match[2]}`;
      if (!series.has(key)) series.set(key, new Map());
      series.get(key)!.set(Number(match[4]), Number(match[3]));
    }
    return series;
  }

  it('writes every sample it counts, and counters that grow by the hour rates', async () => {
    const spec = benchFleet(3, 1);
    const to = spec.fromMs + 24 * HOUR_MS;
    const file = join(dir, 'all.om');
    expect(await writeOpenMetricsWindow(spec, spec.fromMs, to, file)).toBe(
      samplesBetween(spec, spec.fromMs, to),
    );
    const text = await readFile(file, 'utf8');
    expect(text.startsWith('# HELP node_cpu_seconds')).toBe(true);
    expect(text.endsWith('# EOF\n')).toBe(true);

    const all = await counters(file);
    const hour = 5;
    const at = (ms: number) => ms / 1000;
    const from = spec.fromMs + hour * HOUR_MS;
    const busy = all.get('i0001:9100 user')!;
    const idle = all.get('i0001:9100 idle')!;
    expect(busy.get(at(spec.fromMs))).toBe(0);
    const fraction = busyFraction(spec.seed, 1, hour);
    expect(busy.get(at(from + HOUR_MS))! - busy.get(at(from))!).toBeCloseTo(fraction * 3600, 1);
    expect(idle.get(at(from + HOUR_MS))! - idle.get(at(from))!).toBeCloseTo((1 - fraction) * 3600, 1);
  });

  it('joins windows written separately into the same counters', async () => {
    const spec = benchFleet(2, 2);
    const mid = spec.fromMs + 30 * HOUR_MS;
    const end = spec.fromMs + 48 * HOUR_MS;
    await writeOpenMetricsWindow(spec, spec.fromMs, end, join(dir, 'whole.om'));
    await writeOpenMetricsWindow(spec, spec.fromMs, mid - spec.scrapeIntervalMs, join(dir, 'first.om'));
    await writeOpenMetricsWindow(spec, mid, end, join(dir, 'second.om'));
    const whole = await counters(join(dir, 'whole.om'));
    const first = await counters(join(dir, 'first.om'));
    const second = await counters(join(dir, 'second.om'));
    for (const [key, values] of whole) {
      const joined = new Map([...first.get(key)!, ...second.get(key)!]);
      expect(joined).toEqual(values);
    }
  });

  it('keeps busy fractions inside [0.02, 0.98] and registers every VM', async () => {
    for (let vm = 0; vm < 50; vm++) {
      for (let hour = 0; hour < 200; hour += 7) {
        const fraction = busyFraction(20250101, vm, hour);
        expect(fraction).toBeGreaterThanOrEqual(0.02);
        expect(fraction).toBeLessThanOrEqual(0.98);
      }
    }
    const spec = benchFleet(45, 1);
    await writeBenchRegistry(spec, join(dir, 'workspaces.json'));
    const records = JSON.parse(await readFile(join(dir, 'workspaces.json'), 'utf8')) as Array<{
      hostname: string;
    }>;
    expect(records.map((r) => r.hostname)).toEqual(
      Array.from({ length: 45 }, (_, i) => `i${String(i).padStart(4, '0')}`),
    );
  });
});
