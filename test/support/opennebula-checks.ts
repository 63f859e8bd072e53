/**
 * What the OpenNebula fleet of opennebula-fleet.ts must give once ingested: the config that maps
 * it, its keys at every level, and the checks of the stored figures and host history.
 */
import { parseConfig, type Config } from '../../src/config';
import type { Breakdown } from '../../src/domain/figures';
import type { Level } from '../../src/domain/levels';
import { DAY_MS, hourLabel } from '../../src/domain/time';
import type { InstanceHostHistory } from '../../src/store/host-history';
import type { Store } from '../../src/store/store';
import { expectedHours, fleet, type ExpectedHour } from './opennebula-fleet';

export const DAY = Date.parse('2025-03-10T00:00:00Z');
export const NOW = DAY + 3 * DAY_MS + 20 * 60_000;
export const VMS = fleet(DAY / 1000);
export const EXPECTED = expectedHours(VMS, DAY / 1000, DAY / 1000 + 86_400, NOW / 1000);

/** Each VM's keys as the config below maps them. */
export const KEYS: Record<number, Record<Level, string>> = {
  1: {
    INSTANCE: 'one-1',
    PROJECT: 'IDAaaS',
    USER: 'alice',
    MACHINE: 'Artemis (Matlab)',
    EXPERIMENT: 'unknown',
  },
  2: { INSTANCE: 'one-2', PROJECT: 'gid-101', USER: 'uid-6', MACHINE: 'gpu', EXPERIMENT: 'unknown' },
  3: {
    INSTANCE: 'one-3',
    PROJECT: 'IDAaaS',
    USER: 'alice',
    MACHINE: 'Artemis (Matlab)',
    EXPERIMENT: 'unknown',
  },
};

/** The source's config over `url`, with a JSON store in `dataDir` or the given store section. */
export function config(
  store: string | Record<string, unknown>,
  url: string,
  more: Record<string, unknown> = {},
): Config {
  return parseConfig({
    ...more,
    prometheus: { enabled: false },
    sources: {
      opennebula: {
        url,
        groups: { '100': 'IDAaaS' },
        users: { '5': 'alice' },
        machines: { matlab: 'Artemis (Matlab)' },
        // Small batches, so reading in batches is what this test goes through.
        batchRows: 40,
      },
    },
    store: typeof store === 'string' ? { dataDir: store } : store,
    carbon: { source: 'static', gPerKwh: 200 },
  });
}

/** The measured figures the fleet's generator works out, and the store keeps. */
const MEASURED = [
  'busyCpuSeconds',
  'idleCpuSeconds',
  'upHours',
  'memoryByteHours',
  'networkReceiveBytes',
  'networkTransmitBytes',
] as const;
type Measured = Record<(typeof MEASURED)[number], number>;

/** The expected figures of a level's key in each hour, summed over its VMs. */
function expectedOf(level: Level, key: string): Map<number, Measured> {
  const sums = new Map<number, Measured>();
  for (const e of EXPECTED.filter((x: ExpectedHour) => KEYS[x.vmId][level] === key)) {
    const sum = sums.get(e.hour) ?? (Object.fromEntries(MEASURED.map((m) => [m, 0])) as Measured);
    for (const name of MEASURED) sum[name] += e[name];
    sums.set(e.hour, sum);
  }
  return sums;
}

/**
 * Contract sections 2 and 8 allow 0.1 % on whole hours and 2 % on hours with a start, stop or gap;
 * the source integrates exactly, so every hour is held to the tighter bound.
 */
const BOUND = 0.001;
const within = (actual: number, expected: number) =>
  Math.abs(actual - expected) <= BOUND * Math.abs(expected) + 1e-6;

function mismatches(level: Level, key: string, hour: string, actual: Measured, expected: Measured) {
  return MEASURED.filter((name) => !within(actual[name], expected[name])).map(
    (name) => `${level} ${key} ${hour} ${name}: ${actual[name]}, expected ${expected[name]}`,
  );
}

export async function expectEveryLevelMatches(store: Store): Promise<void> {
  const wrong: string[] = [];
  for (const level of ['INSTANCE', 'PROJECT', 'USER', 'MACHINE', 'EXPERIMENT'] as const) {
    const keys = [...new Set(Object.values(KEYS).map((k) => k[level]))].sort();
    expect(await store.listKeys(level)).toEqual(keys);
    for (const key of keys) {
      const [entry] = await store.readDays(level, '2025-03-10', [key]);
      const expected = expectedOf(level, key);
      expect(Object.keys(entry!.hours).sort()).toEqual([...expected.keys()].map(hourLabel).sort());
      const total = Object.fromEntries(MEASURED.map((m) => [m, 0])) as Measured;
      for (const [hour, figures] of expected) {
        const all = (entry!.hours[hourLabel(hour)] as Breakdown).all;
        wrong.push(...mismatches(level, key, hourLabel(hour), all, figures));
        expect(all.busyKwh).toBeCloseTo((figures.busyCpuSeconds * 12) / 3.6e6, 12);
        expect(all.idleGco2eq).toBeCloseTo(((figures.idleCpuSeconds * 1) / 3.6e6) * 200, 9);
        for (const name of MEASURED) total[name] += figures[name];
      }
      wrong.push(...mismatches(level, key, 'day', entry!.totals.all, total));
      // Memory and traffic cost energy through the catalogue's coefficients, as Prometheus's do.
      expect(entry!.totals.all.memoryKwh).toBeCloseTo(
        (entry!.totals.all.memoryByteHours / 1e9) * 0.000392,
        9,
      );
      expect(entry!.totals.all.networkKwh).toBeCloseTo(
        ((entry!.totals.all.networkReceiveBytes + entry!.totals.all.networkTransmitBytes) / 1e9) * 0.001,
        9,
      );
    }
  }
  expect(wrong).toEqual([]);
}

/** The host histories the fleet's registers give (seed 004's reasons by name), as the store keeps them. */
export function expectedHistories(): Map<string, InstanceHostHistory> {
  const s = (offset: number) => DAY + offset * 1000;
  return new Map<string, InstanceHostHistory>([
    [
      'one-1',
      { periods: [{ host: 'node-a', from: s(-5 * 3600 + 17), to: null, reason: null }], endedAt: null },
    ],
    [
      'one-2',
      {
        periods: [
          { host: 'node-a', from: s(3600 + 1234), to: s(5 * 3600 + 2233), reason: 'USER' },
          { host: 'node-b', from: s(5 * 3600 + 2301), to: s(20 * 3600 + 611), reason: 'NONE' },
        ],
        endedAt: s(20 * 3600 + 611),
      },
    ],
    [
      'one-3',
      {
        periods: [
          { host: 'node-b', from: s(2 * 3600), to: s(8 * 3600 + 1800), reason: 'STOP_RESUME' },
          { host: 'node-a', from: s(11 * 3600 + 901), to: null, reason: null },
        ],
        endedAt: null,
      },
    ],
  ]);
}
