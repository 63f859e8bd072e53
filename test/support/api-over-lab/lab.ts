import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { main } from '../../../src/cli';
import { parseConfig } from '../../../src/config';
import { fixedClock } from '../../../src/domain/clock';
import type { Figures } from '../../../src/domain/figures';
import type { Level } from '../../../src/domain/levels';
import { silentLogger } from '../../../src/log';
import { startService, type RunningService } from '../../../src/serve';
import {
  expectedByLevel,
  expectedInstanceHours,
  type ExpectedByLevel,
  type ExpectedInstanceHour,
} from '../lab/expected';
import { startLab, type Lab } from '../lab/prometheus-lab';
import { createTestDatabase, type TestDatabase } from '../postgres';

export const G_PER_KWH = 250;
const ENERGY = {
  default: { busyWattsPerCore: 12, idleWattsPerCore: 1 },
  machines: {
    'Artemis (Matlab)': { busyWattsPerCore: 20, embodied: { kgCo2eq: 1400, share: 0.5 } },
    'Octopus (GPU)': { embodied: { kgCo2eq: 3000, lifespanYears: 5 } },
  },
  pue: 1.2,
  memoryKwhPerGbHour: 0.0005,
};

export const at = (iso: string): number => Date.parse(iso);
export const iso = (ms: number): string => new Date(ms).toISOString();

export const OK_FROM = at('2025-09-20T00:00:00Z');
export const OUTAGE_FROM = at('2025-09-23T03:00:00Z');
export const OUTAGE_TO = at('2025-09-25T00:00:00Z');
/** The machineMetrics clock: "today" is the day the outage began, so its ok hours are left out. */
const NOW = at('2025-09-23T10:00:00Z');

export const LAB_DAYS = ['2025-09-21', '2025-09-22'];
export const LAB_FROM = at('2025-09-21T00:00:00Z');
export const LAB_TO = at('2025-09-23T00:00:00Z');

/** Per-bucket figures: the generator's hour figures are exact but for a VM's last hour (1 % high). */
export const DAY_TOLERANCE = 0.01;
export const HOUR_TOLERANCE = 0.02;

const FIGURES = `busyCpuSeconds idleCpuSeconds busyKwh idleKwh busyGco2eq idleGco2eq totalKwh totalGco2eq`;
const RESOURCES = `upHours memoryByteHours memoryBytesAvg diskByteHours diskBytesAvg networkReceiveBytes
  networkTransmitBytes memoryKwh storageKwh networkKwh memoryGco2eq storageGco2eq networkGco2eq operationalKwh
  operationalGco2eq embodiedGco2eq`;
export const SERIES = `id level key granularity from to
  buckets { start end status failedHours usage { ${FIGURES} } resources { ${RESOURCES} }
    byMachine { machineName machineKey usage { ${FIGURES} } } }
  total { ${FIGURES} } resourcesTotal { ${RESOURCES} }`;

export interface ApiFigures extends Figures {
  totalKwh: number;
  totalGco2eq: number;
}
export type ApiResources = Record<string, number>;
export interface ApiBucket {
  start: string;
  end: string;
  status: 'OK' | 'PARTIAL' | 'FAILED' | 'MISSING';
  failedHours: number;
  usage: ApiFigures | null;
  resources: ApiResources | null;
  byMachine: Array<{ machineName: string; machineKey: string; usage: ApiFigures }>;
}
export interface ApiSeries {
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
export interface GraphQLAnswer<T> {
  data?: T | null;
  errors?: Array<{ message: string; extensions?: Record<string, unknown> }>;
}

let lab: Lab;
export let expected: ExpectedByLevel;
export let instanceHours: ExpectedInstanceHour[];
export let service: RunningService;
let workDir: string;
/** The store of the run under way, and its database when it is PostgreSQL. */
let storeKind: StoreKind;
export let database: TestDatabase | undefined;

export const STORE_KINDS = ['json', 'postgres'] as const;
export type StoreKind = (typeof STORE_KINDS)[number];

/** Every answer each store gave, by request, to be compared figure for figure once both ran. */
export const answers: Record<StoreKind, Map<string, unknown>> = { json: new Map(), postgres: new Map() };

function storeConfig() {
  const dataDir = join(workDir, storeKind);
  return storeKind === 'json' ? { kind: 'json', dataDir } : { kind: 'postgres', url: database!.url, dataDir };
}

export async function post<T>(
  query: string,
  variables: Record<string, unknown> = {},
): Promise<GraphQLAnswer<T>> {
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
export async function query<T>(text: string, variables: Record<string, unknown> = {}): Promise<T> {
  const answer = await post<T>(text, variables);
  expect(answer.errors).toBeUndefined();
  expect(answer.data).toBeDefined();
  return answer.data!;
}

export async function series(
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

/** Starts the Prometheus lab and reads the generator's expected figures (beforeAll of the whole file). */
export async function startApiLab(): Promise<void> {
  lab = await startLab();
  expect(lab.spec.days).toEqual(LAB_DAYS);
  expect([iso(lab.spec.dataFromMs), iso(lab.spec.dataToMs)]).toEqual([
    '2025-09-20T22:00:00.000Z',
    '2025-09-23T02:00:00.000Z',
  ]);
  instanceHours = expectedInstanceHours(lab.spec);
  expected = expectedByLevel(instanceHours, parseConfig({ energy: ENERGY }).energy, G_PER_KWH);
  workDir = mkdtempSync(join(tmpdir(), 'cl-api-lab-'));
}

/** Stops the lab and removes the work directory (afterAll of the whole file). */
export async function stopApiLab(): Promise<void> {
  await lab?.stop();
  if (workDir) rmSync(workDir, { recursive: true, force: true });
}

/** Fills the store of `kind` from the lab as `carbonledger ingest` does, and serves it. */
export async function ingestAndServe(kind: StoreKind): Promise<void> {
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
