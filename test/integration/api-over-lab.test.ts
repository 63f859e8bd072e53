import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { main } from '../../src/cli';
import { parseConfig } from '../../src/config';
import { fixedClock } from '../../src/domain/clock';
import { FIGURE_FIELDS, zeroFigures, type Figures } from '../../src/domain/figures';
import { CPU_NAMES, RESOURCE_NAMES } from '../../src/domain/metrics';
import { LEVELS, type Level } from '../../src/domain/levels';
import { DAY_MS, HOUR_MS, periodStart } from '../../src/domain/time';
import { machineKey } from '../../src/domain/machine-key';
import { silentLogger } from '../../src/log';
import { startService, type RunningService } from '../../src/serve';
import {
  expectedByLevel,
  expectedInstanceHours,
  type ExpectedByLevel,
  type ExpectedInstanceHour,
} from '../support/lab/expected';
import { startLab, type Lab } from '../support/lab/prometheus-lab';
import { createTestDatabase, type TestDatabase } from '../support/postgres';

/**
 * The GraphQL API over HTTP, over a store (JSON, then PostgreSQL) that `carbonledger ingest` filled from the real
 * Prometheus lab (test/support/lab): every figure is compared with the generator's own reading of
 * the fleet (expected.ts), never with the store's files.
 *
 * The store, for the default fleet (data 2025-09-20T22:00Z to 2025-09-23T02:00Z):
 * - ingested with Prometheus up: [2025-09-20T00:00Z, 2025-09-23T03:00Z), every hour ok
 *   (the hours before 22:00 on the 20th and 02:00 on the 23rd are ok and hold no usage);
 * - then Prometheus stopped, and [2025-09-23T03:00Z, 2025-09-25T00:00Z) ingested: every hour failed;
 * - nothing else: 2025-09-19 and before, 2025-09-25 and after are missing.
 */

const G_PER_KWH = 250;
const ENERGY = {
  default: { busyWattsPerCore: 12, idleWattsPerCore: 1 },
  machines: {
    'Artemis (Matlab)': { busyWattsPerCore: 20, embodied: { kgCo2eq: 1400, share: 0.5 } },
    'Octopus (GPU)': { embodied: { kgCo2eq: 3000, lifespanYears: 5 } },
  },
  pue: 1.2,
  memoryKwhPerGbHour: 0.0005,
};

const at = (iso: string): number => Date.parse(iso);
const iso = (ms: number): string => new Date(ms).toISOString();

const OK_FROM = at('2025-09-20T00:00:00Z');
const OUTAGE_FROM = at('2025-09-23T03:00:00Z');
const OUTAGE_TO = at('2025-09-25T00:00:00Z');
/** The machineMetrics clock: "today" is the day the outage began, so its ok hours are left out. */
const NOW = at('2025-09-23T10:00:00Z');

const LAB_DAYS = ['2025-09-21', '2025-09-22'];
const LAB_FROM = at('2025-09-21T00:00:00Z');
const LAB_TO = at('2025-09-23T00:00:00Z');

/** Per-bucket figures: the generator's hour figures are exact but for a VM's last hour (1 % high). */
const DAY_TOLERANCE = 0.01;
const HOUR_TOLERANCE = 0.02;

const FIGURES = `busyCpuSeconds idleCpuSeconds busyKwh idleKwh busyGco2eq idleGco2eq totalKwh totalGco2eq`;
const RESOURCES = `upHours memoryByteHours memoryBytesAvg diskByteHours diskBytesAvg networkReceiveBytes
  networkTransmitBytes memoryKwh storageKwh networkKwh memoryGco2eq storageGco2eq networkGco2eq operationalKwh
  operationalGco2eq embodiedGco2eq`;
const SERIES = `id level key granularity from to
  buckets { start end status failedHours usage { ${FIGURES} } resources { ${RESOURCES} }
    byMachine { machineName machineKey usage { ${FIGURES} } } }
  total { ${FIGURES} } resourcesTotal { ${RESOURCES} }`;

interface ApiFigures extends Figures {
  totalKwh: number;
  totalGco2eq: number;
}
type ApiResources = Record<string, number>;
interface ApiBucket {
  start: string;
  end: string;
  status: 'OK' | 'PARTIAL' | 'FAILED' | 'MISSING';
  failedHours: number;
  usage: ApiFigures | null;
  resources: ApiResources | null;
  byMachine: Array<{ machineName: string; machineKey: string; usage: ApiFigures }>;
}
interface ApiSeries {
  id: string;
  level: Level;
  key: string;
  granularity: string;
  from: string;
  to: string;
  buckets: ApiBucket[];
  total: ApiFigures;
  resourcesTotal: ApiResources;
}
interface GraphQLAnswer<T> {
  data?: T | null;
  errors?: Array<{ message: string; extensions?: Record<string, unknown> }>;
}

let lab: Lab;
let expected: ExpectedByLevel;
let instanceHours: ExpectedInstanceHour[];
let service: RunningService;
let workDir: string;
/** The store of the run under way, and its database when it is PostgreSQL. */
let storeKind: StoreKind;
let database: TestDatabase | undefined;

const STORE_KINDS = ['json', 'postgres'] as const;
type StoreKind = (typeof STORE_KINDS)[number];

/** Every answer each store gave, by request, to be compared figure for figure once both ran. */
const answers: Record<StoreKind, Map<string, unknown>> = { json: new Map(), postgres: new Map() };

function storeConfig() {
  const dataDir = join(workDir, storeKind);
  return storeKind === 'json' ? { kind: 'json', dataDir } : { kind: 'postgres', url: database!.url, dataDir };
}

async function post<T>(query: string, variables: Record<string, unknown> = {}): Promise<GraphQLAnswer<T>> {
  const response = await fetch(service.url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ query, variables }),
  });
  const answer = (await response.json()) as GraphQLAnswer<T>;
  answers[storeKind].set(JSON.stringify({ query, variables }), answer);
  return answer;
}

/** The data of an answer that must hold no errors. */
async function query<T>(text: string, variables: Record<string, unknown> = {}): Promise<T> {
  const answer = await post<T>(text, variables);
  expect(answer.errors).toBeUndefined();
  expect(answer.data).toBeDefined();
  return answer.data!;
}

async function series(
  level: Level,
  key: string,
  granularity: string,
  from: number,
  to: number,
): Promise<ApiSeries> {
  const data = await query<{ usageSeries: ApiSeries }>(
    `query($level: UsageLevel!, $key: String!, $from: DateTime!, $to: DateTime!, $granularity: Granularity!) {
      usageSeries(level: $level, key: $key, from: $from, to: $to, granularity: $granularity) { ${SERIES} }
    }`,
    { level, key, from: iso(from), to: iso(to), granularity },
  );
  return data.usageSeries;
}

/** `carbonledger ingest` over [from, to), its JSON log captured rather than printed. */
async function ingest(from: number, to: number): Promise<{ code: number; log: string }> {
  const config = join(workDir, 'config.json');
  writeFileSync(
    config,
    JSON.stringify({
      prometheus: { url: lab.url, chunkHours: 12, attempts: 1, timeoutMs: 10_000 },
      workspaces: { file: lab.registryFile },
      energy: ENERGY,
      carbon: { source: 'static', gPerKwh: G_PER_KWH },
      store: storeConfig(),
    }),
  );
  const lines: string[] = [];
  const spy = jest
    .spyOn(process.stderr, 'write')
    .mockImplementation((chunk) => (lines.push(String(chunk)), true));
  try {
    const code = await main(['ingest', '--from', iso(from), '--to', iso(to), '--config', config]);
    return { code, log: lines.join('') };
  } finally {
    spy.mockRestore();
  }
}

/** The generator's figures of a key, summed over the hours in [from, to), with the machine breakdown. */
function expectedSum(level: Level, key: string, from: number, to: number) {
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
const NO_USAGE = { ...Object.fromEntries(CPU_NAMES.map((name) => [name, 0])), totalKwh: 0, totalGco2eq: 0 };

function near(actual: number, want: number, tolerance: number): boolean {
  return Math.abs(actual - want) <= Math.abs(want) * tolerance + 1e-9;
}

/** The API's eight figures against the generator's six (and their busy + idle totals). */
function expectFigures(
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
function expectResources(
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
function expectBucketUsage(
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
function addUp(all: Array<ApiFigures | null>): ApiFigures {
  const sum = { ...NO_USAGE } as ApiFigures;
  for (const figures of all) {
    if (!figures) continue;
    for (const field of Object.keys(sum) as Array<keyof ApiFigures>) sum[field] += figures[field];
  }
  return sum;
}

const keysOf = (level: Level): string[] => [...expected[level].keys()].sort();

/** The key of a level with the most busy kWh over the lab's days. */
function busiestKey(level: Level): string {
  const busy = (key: string) => expectedSum(level, key, LAB_FROM, LAB_TO).all.busyKwh;
  return keysOf(level).reduce((best, key) => (busy(key) > busy(best) ? key : best));
}

/** What the ledger holds for a day of September 2025, and which of its hours are ok. */
function dayOfSeptember(day: number): { status: ApiBucket['status']; failedHours: number; okTo: number } {
  const start = Date.UTC(2025, 8, day);
  const end = start + DAY_MS;
  const okHours = Math.max(0, (Math.min(end, OUTAGE_FROM) - Math.max(start, OK_FROM)) / HOUR_MS);
  const failedHours = Math.max(0, (Math.min(end, OUTAGE_TO) - Math.max(start, OUTAGE_FROM)) / HOUR_MS);
  const status = okHours === 24 ? 'OK' : okHours > 0 ? 'PARTIAL' : failedHours > 0 ? 'FAILED' : 'MISSING';
  return { status, failedHours, okTo: Math.min(end, OUTAGE_FROM) };
}

beforeAll(async () => {
  lab = await startLab();
  expect(lab.spec.days).toEqual(LAB_DAYS);
  expect([iso(lab.spec.dataFromMs), iso(lab.spec.dataToMs)]).toEqual([
    '2025-09-20T22:00:00.000Z',
    '2025-09-23T02:00:00.000Z',
  ]);
  instanceHours = expectedInstanceHours(lab.spec);
  expected = expectedByLevel(instanceHours, parseConfig({ energy: ENERGY }).energy, G_PER_KWH);
  workDir = mkdtempSync(join(tmpdir(), 'cl-api-lab-'));
});

afterAll(async () => {
  await lab?.stop();
  if (workDir) rmSync(workDir, { recursive: true, force: true });
});

/** Fills the store of `kind` from the lab as `carbonledger ingest` does, and serves it. */
async function ingestAndServe(kind: StoreKind): Promise<void> {
  storeKind = kind;
  database = kind === 'postgres' ? await createTestDatabase('cl_api_lab') : undefined;
  const up = await ingest(OK_FROM, OUTAGE_FROM);
  if (up.code !== 0) throw new Error(`ingest with Prometheus up exited ${up.code}:\n${up.log}`);
  await lab.pause();
  try {
    const down = await ingest(OUTAGE_FROM, OUTAGE_TO);
    if (down.code !== 3) throw new Error(`ingest with Prometheus down exited ${down.code}:\n${down.log}`);
  } finally {
    await lab.resume();
  }

  service = await startService({
    config: parseConfig({ store: storeConfig(), server: { port: 0 } }),
    log: silentLogger,
    schedule: false,
    demo: false,
    clock: fixedClock(NOW),
  });
}

describe.each(STORE_KINDS)('over the %s store', (kind) => {
  beforeAll(() => ingestAndServe(kind));

  afterAll(async () => {
    await service?.close();
    await database?.drop();
  });

  describe('the GraphQL API over a store the Prometheus lab filled', () => {
    it.each(LEVELS)('usageKeys(%s) lists every key the generator expects, sorted', async (level) => {
      const data = await query<{ usageKeys: string[] }>(
        `query($level: UsageLevel!) { usageKeys(level: $level) }`,
        {
          level,
        },
      );
      expect(keysOf(level).length).toBeGreaterThan(0);
      expect(data.usageKeys).toEqual(keysOf(level));
    });

    it.each(LEVELS)(
      'DAY series of every %s key over the lab days: OK, usage and byMachine within 1 %% of the generator',
      async (level) => {
        for (const key of keysOf(level)) {
          const answer = await series(level, key, 'DAY', LAB_FROM, LAB_TO);
          expect(answer).toMatchObject({
            level,
            key,
            granularity: 'DAY',
            from: iso(LAB_FROM),
            to: iso(LAB_TO),
          });
          expect(answer.buckets.map((b) => [b.start, b.end, b.status, b.failedHours])).toEqual(
            LAB_DAYS.map((day) => [iso(periodStart(day)), iso(periodStart(day) + DAY_MS), 'OK', 0]),
          );
          for (const bucket of answer.buckets) {
            const start = Date.parse(bucket.start);
            expectBucketUsage(bucket, level, key, start, start + DAY_MS, DAY_TOLERANCE);
          }
          expectFigures(
            answer.total,
            expectedSum(level, key, LAB_FROM, LAB_TO).all,
            DAY_TOLERANCE,
            `${level} ${key} total`,
          );
        }
      },
    );

    it.each(LEVELS)(
      'HOUR series of the busiest %s key: every hour OK and within 2 %% of the generator',
      async (level) => {
        const key = busiestKey(level);
        const answer = await series(level, key, 'HOUR', LAB_FROM, LAB_TO);
        expect(answer.buckets).toHaveLength(48);
        let hoursWithUsage = 0;
        answer.buckets.forEach((bucket, i) => {
          const start = LAB_FROM + i * HOUR_MS;
          expect([bucket.start, bucket.end, bucket.status, bucket.failedHours]).toEqual([
            iso(start),
            iso(start + HOUR_MS),
            'OK',
            0,
          ]);
          expectBucketUsage(bucket, level, key, start, start + HOUR_MS, HOUR_TOLERANCE);
          if (bucket.byMachine.length > 0) hoursWithUsage++;
        });
        expect(hoursWithUsage).toBeGreaterThan(24);
      },
    );

    it.each(LEVELS)(
      'September 2025 of every %s key: DAY statuses from the ledger, MONTH and YEAR equal the DAY sums and the generator',
      async (level) => {
        const september = Date.UTC(2025, 8, 1);
        const october = Date.UTC(2025, 9, 1);
        const okSum = (key: string) => expectedSum(level, key, OK_FROM, OUTAGE_FROM).all;
        for (const key of keysOf(level)) {
          const days = await series(level, key, 'DAY', september, october);
          expect(days.buckets).toHaveLength(30);
          days.buckets.forEach((bucket, i) => {
            const { status, failedHours, okTo } = dayOfSeptember(i + 1);
            const start = september + i * DAY_MS;
            expect({
              key,
              start: bucket.start,
              status: bucket.status,
              failedHours: bucket.failedHours,
            }).toEqual({
              key,
              start: iso(start),
              status,
              failedHours,
            });
            if (status === 'OK' || status === 'PARTIAL') {
              // A PARTIAL day (the outage began at 03:00) holds the sum over its ok hours only.
              expectBucketUsage(bucket, level, key, start, okTo, DAY_TOLERANCE);
            } else {
              expect({ start: bucket.start, usage: bucket.usage, byMachine: bucket.byMachine }).toEqual({
                start: bucket.start,
                usage: null,
                byMachine: [],
              });
            }
          });
          const daySum = addUp(days.buckets.map((b) => b.usage));
          expectFigures(days.total, daySum, 1e-9, `${level} ${key} DAY total`);
          expectFigures(daySum, okSum(key), DAY_TOLERANCE, `${level} ${key} DAY sum`);
          expectResources(
            days.resourcesTotal,
            okSum(key),
            DAY_TOLERANCE,
            `${level} ${key} DAY resourcesTotal`,
          );

          for (const [granularity, from, to] of [
            ['MONTH', september, october],
            ['YEAR', Date.UTC(2025, 0, 1), Date.UTC(2026, 0, 1)],
          ] as const) {
            const rolled = await series(level, key, granularity, from, to);
            expect(rolled.buckets).toHaveLength(1);
            const [bucket] = rolled.buckets;
            expect([bucket.start, bucket.end, bucket.status, bucket.failedHours]).toEqual([
              iso(from),
              iso(to),
              'PARTIAL',
              (OUTAGE_TO - OUTAGE_FROM) / HOUR_MS,
            ]);
            expectFigures(bucket.usage, daySum, 1e-9, `${level} ${key} ${granularity} vs the DAY sum`);
            expectFigures(rolled.total, daySum, 1e-9, `${level} ${key} ${granularity} total vs the DAY sum`);
            // Resources roll up as the CPU figures do: the month and the year hold what the days do.
            expectResources(bucket.resources, okSum(key), DAY_TOLERANCE, `${level} ${key} ${granularity}`);
            expectResources(
              rolled.resourcesTotal,
              okSum(key),
              DAY_TOLERANCE,
              `${level} ${key} ${granularity} resourcesTotal`,
            );
            expect(bucket.byMachine.map((m) => m.machineKey).sort()).toEqual(
              Object.keys(expectedSum(level, key, OK_FROM, OUTAGE_FROM).byMachine).sort(),
            );
            for (const { machineName, usage } of bucket.byMachine) {
              const dayMachineSum = addUp(
                days.buckets.map(
                  (b) => b.byMachine.find((m) => m.machineName === machineName)?.usage ?? null,
                ),
              );
              expectFigures(usage, dayMachineSum, 1e-9, `${level} ${key} ${granularity} ${machineName}`);
            }
          }
        }
      },
    );

    it('the outage: hours and a whole day in it are FAILED with null usage; the day it began is PARTIAL, its ok hours summed', async () => {
      const level: Level = 'PROJECT';
      const key = busiestKey(level);
      const hours = await series(level, key, 'HOUR', at('2025-09-23T00:00:00Z'), at('2025-09-24T00:00:00Z'));
      expect(hours.buckets.map((b) => [b.status, b.failedHours])).toEqual([
        ...Array.from({ length: 3 }, () => ['OK', 0]),
        ...Array.from({ length: 21 }, () => ['FAILED', 1]),
      ]);
      for (const bucket of hours.buckets.slice(3)) {
        expect([bucket.usage, bucket.byMachine]).toEqual([null, []]);
      }
      // 00:00 and 01:00 hold the fleet's last samples; 02:00 is ok and empty.
      expectBucketUsage(
        hours.buckets[0],
        level,
        key,
        at('2025-09-23T00:00:00Z'),
        at('2025-09-23T01:00:00Z'),
        HOUR_TOLERANCE,
      );
      expect(hours.buckets[0].usage!.busyKwh).toBeGreaterThan(0);
      expectBucketUsage(
        hours.buckets[2],
        level,
        key,
        at('2025-09-23T02:00:00Z'),
        OUTAGE_FROM,
        HOUR_TOLERANCE,
      );
      expect(hours.buckets[2].usage).toEqual(NO_USAGE);

      const days = await series(level, key, 'DAY', at('2025-09-23T00:00:00Z'), OUTAGE_TO);
      const [partial, failed] = days.buckets;
      expect([partial.status, partial.failedHours, failed.status, failed.failedHours]).toEqual([
        'PARTIAL',
        21,
        'FAILED',
        24,
      ]);
      expectFigures(
        partial.usage,
        addUp(hours.buckets.map((b) => b.usage)),
        1e-9,
        'the PARTIAL day vs its hours',
      );
      expectBucketUsage(partial, level, key, at('2025-09-23T00:00:00Z'), OUTAGE_FROM, DAY_TOLERANCE);
      expect([failed.usage, failed.byMachine]).toEqual([null, []]);
      expectFigures(days.total, partial.usage!, 1e-9, 'the total over the outage');

      // A range wholly inside the outage: the clipped bucket counts its 6 hours, all failed.
      const inside = await series(level, key, 'DAY', at('2025-09-24T06:00:00Z'), at('2025-09-24T12:00:00Z'));
      expect(inside.buckets.map((b) => [b.status, b.failedHours, b.usage])).toEqual([['FAILED', 6, null]]);
      expect(inside.total).toEqual(NO_USAGE);
    });

    it('a range never ingested is MISSING, with null usage and a zero total, at every granularity', async () => {
      const key = busiestKey('PROJECT');
      const noFigures = NO_USAGE;
      for (const [granularity, from, to, buckets] of [
        ['YEAR', at('2024-01-01T00:00:00Z'), at('2025-01-01T00:00:00Z'), 1],
        ['MONTH', at('2025-08-01T00:00:00Z'), at('2025-09-01T00:00:00Z'), 1],
        ['DAY', at('2025-09-25T00:00:00Z'), at('2025-09-28T00:00:00Z'), 3],
        ['HOUR', at('2025-09-19T20:00:00Z'), at('2025-09-20T00:00:00Z'), 4],
      ] as const) {
        const answer = await series('PROJECT', key, granularity, from, to);
        expect({ granularity, buckets: answer.buckets.length }).toEqual({ granularity, buckets });
        for (const bucket of answer.buckets) {
          expect({
            granularity,
            status: bucket.status,
            failedHours: bucket.failedHours,
            usage: bucket.usage,
          }).toEqual({
            granularity,
            status: 'MISSING',
            failedHours: 0,
            usage: null,
          });
          expect(bucket.byMachine).toEqual([]);
        }
        expect(answer.total).toEqual(noFigures);
      }
    });

    it('an unknown key is MISSING over ingested hours, not an error', async () => {
      for (const level of LEVELS) {
        const answer = await series(level, 'no-such-key', 'DAY', LAB_FROM, LAB_TO);
        expect(answer.buckets.map((b) => [b.status, b.failedHours, b.usage, b.byMachine])).toEqual([
          ['MISSING', 0, null, []],
          ['MISSING', 0, null, []],
        ]);
        expect(answer.total).toEqual(NO_USAGE);
      }
    });

    it.each(LEVELS)(
      'usageSeriesMany(%s) answers one series per key in the order given, as usageSeries does',
      async (level) => {
        const keys = [...keysOf(level).reverse(), 'no-such-key', keysOf(level)[0]];
        for (const [granularity, from, to] of [
          ['DAY', at('2025-09-20T12:00:00Z'), OUTAGE_TO],
          ['HOUR', at('2025-09-22T20:00:00Z'), at('2025-09-23T06:00:00Z')],
        ] as const) {
          const many = await query<{ usageSeriesMany: ApiSeries[] }>(
            `query($level: UsageLevel!, $keys: [String!]!, $from: DateTime!, $to: DateTime!, $granularity: Granularity!) {
            usageSeriesMany(level: $level, keys: $keys, from: $from, to: $to, granularity: $granularity) { ${SERIES} }
          }`,
            { level, keys, from: iso(from), to: iso(to), granularity },
          );
          expect(many.usageSeriesMany.map((s) => s.key)).toEqual(keys);
          for (const [i, key] of keys.entries()) {
            expect(many.usageSeriesMany[i]).toEqual(await series(level, key, granularity, from, to));
          }
          // Not all alike: the answers differ per key, so order matters.
          expect(new Set(many.usageSeriesMany.map((s) => s.total.totalKwh)).size).toBeGreaterThan(1);
        }
      },
    );

    describe('machineMetrics, with today 2025-09-23 (left out: whole UTC days before it)', () => {
      interface ApiMetrics {
        id: string;
        machineName: string;
        energyKwh: { busy: { average: number }; idle: { average: number } };
        carbonGco2eq: { busy: { average: number }; idle: { average: number } };
        instanceHours: number;
      }
      const METRICS = `id machineName instanceHours
        energyKwh { busy { average } idle { average } } carbonGco2eq { busy { average } idle { average } }`;

      /** The generator's instance-hours and MACHINE-level kWh per machine type over [from, to). */
      function expectedMetrics(from: number, to: number) {
        const machines = [...new Set(instanceHours.map((row) => row.machineName))].sort();
        return machines
          .map((machineName) => {
            const hours = instanceHours.filter(
              (row) => row.machineName === machineName && row.hour >= from && row.hour < to,
            ).length;
            const sum = expectedSum('MACHINE', machineName, from, to).all;
            return { machineName, hours, sum };
          })
          .filter(({ hours }) => hours > 0);
      }

      it.each([
        [1, at('2025-09-22T00:00:00Z')],
        [2, at('2025-09-21T00:00:00Z')],
        // The default, 365 days: every ok hour before today, so the 20th's last two hours too.
        [null, at('2024-09-23T00:00:00Z')],
      ])(
        'days: %p counts the generator’s instance-hours and averages its kWh over them',
        async (days, from) => {
          const to = at('2025-09-23T00:00:00Z');
          const data = await query<{ machineMetrics: ApiMetrics[] }>(
            days === null
              ? `{ machineMetrics { ${METRICS} } }`
              : `query($days: Int) { machineMetrics(days: $days) { ${METRICS} } }`,
            { days },
          );
          const want = expectedMetrics(from, to);
          expect(want.length).toBe(4);
          expect(data.machineMetrics.map((m) => [m.machineName, m.instanceHours])).toEqual(
            want.map((m) => [m.machineName, m.hours]),
          );
          for (const [i, { machineName, hours, sum }] of want.entries()) {
            const got = data.machineMetrics[i];
            const averages = {
              energyBusy: [got.energyKwh.busy.average, sum.busyKwh / hours],
              energyIdle: [got.energyKwh.idle.average, sum.idleKwh / hours],
              carbonBusy: [got.carbonGco2eq.busy.average, sum.busyGco2eq / hours],
              carbonIdle: [got.carbonGco2eq.idle.average, sum.idleGco2eq / hours],
            };
            for (const [what, [actual, wanted]] of Object.entries(averages)) {
              if (!near(actual, wanted, DAY_TOLERANCE)) {
                throw new Error(
                  `${machineName} ${what} (days ${days}): got ${actual}, expected ${wanted} ± 1 %`,
                );
              }
            }
            expect(got.carbonGco2eq.busy.average).toBeCloseTo(got.energyKwh.busy.average * G_PER_KWH, 9);
          }
        },
      );

      it('filters by machine type, as labelled or by machine key, with the same figures', async () => {
        const all = await query<{ machineMetrics: ApiMetrics[] }>(
          `{ machineMetrics(days: 2) { ${METRICS} } }`,
        );
        const matlab = all.machineMetrics.find((m) => m.machineName === 'Artemis (Matlab)');
        expect(matlab).toBeDefined();
        for (const name of ['Artemis (Matlab)', 'ARTEMIS_MATLAB']) {
          const one = await query<{ machineMetrics: ApiMetrics[] }>(
            `query($name: String) { machineMetrics(machineName: $name, days: 2) { ${METRICS} } }`,
            { name },
          );
          expect(one.machineMetrics).toEqual([matlab]);
        }
      });
    });

    describe('bad input: BAD_USER_INPUT naming the argument', () => {
      async function expectBadInput(text: string, variables: Record<string, unknown>, argument: string) {
        const answer = await post<unknown>(text, variables);
        expect(answer.errors).toHaveLength(1);
        const [error] = answer.errors!;
        expect(error.extensions).toMatchObject({ code: 'BAD_USER_INPUT', argument });
        expect(error.message).toContain(`"${argument}"`);
        expect(answer.data ?? null).toBeNull();
      }
      const SINGLE = `query($from: DateTime!, $to: DateTime!, $granularity: Granularity!) {
        usageSeries(level: PROJECT, key: "IDAaaS", from: $from, to: $to, granularity: $granularity) { total { busyKwh } }
      }`;
      const MANY = `query($from: DateTime!, $to: DateTime!, $granularity: Granularity!) {
        usageSeriesMany(level: PROJECT, keys: ["IDAaaS", "ISIS-Muon"], from: $from, to: $to, granularity: $granularity) { key }
      }`;

      it.each([
        [
          'from equal to to',
          { from: '2025-09-21T00:00:00Z', to: '2025-09-21T00:00:00Z', granularity: 'DAY' },
          'from',
        ],
        [
          'from after to',
          { from: '2025-09-22T00:00:00Z', to: '2025-09-21T00:00:00Z', granularity: 'HOUR' },
          'from',
        ],
        [
          'an HOUR range of 367 days',
          { from: '2024-09-21T00:00:00Z', to: '2025-09-23T00:00:00Z', granularity: 'HOUR' },
          'to',
        ],
        [
          'a DAY range over 5 years',
          { from: '2020-09-21T00:00:00Z', to: '2025-09-22T00:00:00Z', granularity: 'DAY' },
          'to',
        ],
        ['a malformed from', { from: '21/09/2025', to: '2025-09-22T00:00:00Z', granularity: 'DAY' }, 'from'],
        [
          'a from that names no day',
          { from: '2025-02-30T00:00:00Z', to: '2025-09-22T00:00:00Z', granularity: 'DAY' },
          'from',
        ],
        ['a malformed to', { from: '2025-09-21T00:00:00Z', to: 'tomorrow', granularity: 'HOUR' }, 'to'],
      ])('%s', async (_what, variables, argument) => {
        await expectBadInput(SINGLE, variables, argument);
        await expectBadInput(MANY, variables, argument);
      });

      it('a malformed date written in the query itself', async () => {
        await expectBadInput(
          `{ usageSeries(level: PROJECT, key: "IDAaaS", from: "yesterday", to: "2025-09-22", granularity: DAY) { key } }`,
          {},
          'from',
        );
      });

      it('an HOUR range of exactly 366 days is allowed, and answers the lab’s hours', async () => {
        const to = OUTAGE_TO;
        const from = to - 366 * DAY_MS;
        const data = await query<{ usageSeries: { buckets: Array<{ status: string }> } }>(
          `query($from: DateTime!, $to: DateTime!) {
            usageSeries(level: PROJECT, key: "IDAaaS", from: $from, to: $to, granularity: HOUR) { buckets { status } }
          }`,
          { from: iso(from), to: iso(to) },
        );
        const statuses = data.usageSeries.buckets.map((b) => b.status);
        expect(statuses).toHaveLength(366 * 24);
        expect(statuses.filter((s) => s === 'OK')).toHaveLength((OUTAGE_FROM - OK_FROM) / HOUR_MS);
        expect(statuses.filter((s) => s === 'FAILED')).toHaveLength((to - OUTAGE_FROM) / HOUR_MS);
      });

      it('machineMetrics days outside 1…3660', async () => {
        for (const days of [0, 3661]) {
          await expectBadInput(
            `query($days: Int) { machineMetrics(days: $days) { machineName } }`,
            { days },
            'days',
          );
        }
      });
    });
  });
});

describe('the two stores', () => {
  it('answered every request the same, figure for figure, status for status, error for error', () => {
    expect(answers.json.size).toBeGreaterThan(50);
    expect([...answers.postgres.keys()]).toEqual([...answers.json.keys()]);
    for (const [request, answer] of answers.json) {
      expect({ request, answer: answers.postgres.get(request) }).toEqual({ request, answer });
    }
  });
});
