import { FIGURE_FIELDS, zeroFigures, type Figures } from '../../../src/domain/figures';
import { CPU_NAMES, RESOURCE_NAMES } from '../../../src/domain/metrics';
import type { Level } from '../../../src/domain/levels';
import { DAY_MS, HOUR_MS } from '../../../src/domain/time';
import { machineKey } from '../../../src/domain/machine-key';
import {
  expected,
  LAB_FROM,
  LAB_TO,
  OK_FROM,
  OUTAGE_FROM,
  OUTAGE_TO,
  type ApiBucket,
  type ApiFigures,
  type ApiResources,
} from './lab';

/** The generator's figures of a key, summed over the hours in [from, to), with the machine breakdown. */
export function expectedSum(level: Level, key: string, from: number, to: number) {
  const all = zeros();
  const byMachine: Record<string, Figures> = {};
  for (const [hour, breakdown] of expected[level].get(key) ?? []) {
    if (hour < from || hour >= to) continue;
    for (const field of FIGURE_FIELDS) all[field] += breakdown.all[field];
    for (const [machine, figures] of Object.entries(breakdown.byMachine)) {
      const into = (byMachine[machine] ??= zeros());
      for (const field of FIGURE_FIELDS) into[field] += figures[field];
    }
  }
  return { all, byMachine };
}

function zeros(): Figures {
  return zeroFigures();
}

/** The API's usage where an ok hour had none: the seed's six and their totals, all 0. */
export const NO_USAGE = {
  ...Object.fromEntries(CPU_NAMES.map((name) => [name, 0])),
  totalKwh: 0,
  totalGco2eq: 0,
};

export function near(actual: number, want: number, tolerance: number): boolean {
  return Math.abs(actual - want) <= Math.abs(want) * tolerance + 1e-9;
}

/** The API's eight figures against the generator's six (and their busy + idle totals). */
export function expectFigures(
  actual: ApiFigures | null | undefined,
  want: Figures,
  tolerance: number,
  what: string,
) {
  if (!actual) throw new Error(`${what}: no usage, expected ${JSON.stringify(want)}`);
  const wanted: Record<string, number> = {
    ...Object.fromEntries(CPU_NAMES.map((name) => [name, want[name]])),
    totalKwh: want.busyKwh + want.idleKwh,
    totalGco2eq: want.busyGco2eq + want.idleGco2eq,
  };
  const wrong = Object.entries(wanted)
    .filter(([field, value]) => !near(actual[field as keyof ApiFigures], value, tolerance))
    .map(([field, value]) => `${field}: got ${actual[field as keyof ApiFigures]}, expected ${value}`);
  if (wrong.length > 0) throw new Error(`${what}, ± ${tolerance * 100} %:\n  ${wrong.join('\n  ')}`);
}

/** The API's resources (contract section 8) against the generator's figures: each, the averages, the sums. */
export function expectResources(
  actual: ApiResources | null | undefined,
  want: Figures,
  tolerance: number,
  what: string,
) {
  if (!actual) throw new Error(`${what}: no resources, expected ${JSON.stringify(want)}`);
  const operationalKwh = want.busyKwh + want.idleKwh + want.memoryKwh + want.storageKwh + want.networkKwh;
  const operationalGco2eq =
    want.busyGco2eq + want.idleGco2eq + want.memoryGco2eq + want.storageGco2eq + want.networkGco2eq;
  const wanted: Record<string, number> = {
    ...Object.fromEntries(RESOURCE_NAMES.map((name) => [name, want[name]])),
    memoryBytesAvg: want.upHours === 0 ? 0 : want.memoryByteHours / want.upHours,
    diskBytesAvg: want.upHours === 0 ? 0 : want.diskByteHours / want.upHours,
    operationalKwh,
    operationalGco2eq,
  };
  const wrong = Object.entries(wanted)
    .filter(([field, value]) => !near(actual[field], value, tolerance))
    .map(([field, value]) => `${field}: got ${actual[field]}, expected ${value}`);
  if (wrong.length > 0)
    throw new Error(`${what} resources, ± ${tolerance * 100} %:\n  ${wrong.join('\n  ')}`);
}

/** A bucket's usage and byMachine against the generator's sum over [from, to). */
export function expectBucketUsage(
  bucket: ApiBucket,
  level: Level,
  key: string,
  from: number,
  to: number,
  tol: number,
) {
  const where = `${level} ${key} ${bucket.start}`;
  const want = expectedSum(level, key, from, to);
  expectFigures(bucket.usage, want.all, tol, where);
  expectResources(bucket.resources, want.all, tol, where);
  // The generator splits by the day entry's machine key; the API names each machine type as the
  // MACHINE level keys it, so the name works there as a key.
  expect({ where, machines: bucket.byMachine.map((m) => m.machineKey).sort() }).toEqual({
    where,
    machines: Object.keys(want.byMachine).sort(),
  });
  for (const { machineName, machineKey: key, usage } of bucket.byMachine) {
    expect({ where, machineName, isMachineKey: keysOf('MACHINE').includes(machineName) }).toEqual({
      where,
      machineName,
      isMachineKey: true,
    });
    expect(machineKey(machineName)).toBe(key);
    expectFigures(usage, want.byMachine[key], tol, `${where} ${machineName}`);
  }
}

/** Sums figures field by field. */
export function addUp(all: Array<ApiFigures | null>): ApiFigures {
  const sum = { ...NO_USAGE } as ApiFigures;
  for (const figures of all) {
    if (!figures) continue;
    for (const field of Object.keys(sum) as Array<keyof ApiFigures>) sum[field] += figures[field];
  }
  return sum;
}

export const keysOf = (level: Level): string[] => [...expected[level].keys()].sort();

/** The key of a level with the most busy kWh over the lab's days. */
export function busiestKey(level: Level): string {
  const busy = (key: string) => expectedSum(level, key, LAB_FROM, LAB_TO).all.busyKwh;
  return keysOf(level).reduce((best, key) => (busy(key) > busy(best) ? key : best));
}

/** What the ledger holds for a day of September 2025, and which of its hours are ok. */
export function dayOfSeptember(day: number): {
  status: ApiBucket['status'];
  failedHours: number;
  okTo: number;
} {
  const start = Date.UTC(2025, 8, day);
  const end = start + DAY_MS;
  const okHours = Math.max(0, (Math.min(end, OUTAGE_FROM) - Math.max(start, OK_FROM)) / HOUR_MS);
  const failedHours = Math.max(0, (Math.min(end, OUTAGE_TO) - Math.max(start, OUTAGE_FROM)) / HOUR_MS);
  const status = okHours === 24 ? 'OK' : okHours > 0 ? 'PARTIAL' : failedHours > 0 ? 'FAILED' : 'MISSING';
  return { status, failedHours, okTo: Math.min(end, OUTAGE_FROM) };
}
