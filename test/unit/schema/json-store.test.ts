import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { graphql, type GraphQLSchema } from 'graphql';
import { fixedClock } from '../../../src/domain/clock';
import { silentLogger } from '../../../src/log';
import { buildAppSchema, createRequestContext } from '../../../src/app-schema';
import { openJsonStore } from '../../../src/store/json';
import type { Store } from '../../../src/store/store';
import { at, dayEntry, failedOutcome, okOutcome, usage } from '../../support/usage-store';
import { apply } from '../../support/describe-store';

// Reads through the schema from a real JSON store filled by applyBatch with literal batches.

const matlab = {
  busyCpuSeconds: 3600,
  idleCpuSeconds: 1800,
  busyKwh: 0.5,
  idleKwh: 0.25,
  busyGco2eq: 100,
  idleGco2eq: 50,
};
const small = {
  busyCpuSeconds: 7200,
  idleCpuSeconds: 900,
  busyKwh: 1,
  idleKwh: 0.125,
  busyGco2eq: 200,
  idleGco2eq: 25,
};

let schema: GraphQLSchema;
let dataDir: string;
let store: Store;

beforeAll(async () => {
  schema = await buildAppSchema();
});

beforeEach(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'carbonledger-read-'));
  store = await openJsonStore({ dataDir });
  // 2025-09-21 22:00 and 23:00 and 2025-09-22 00:00 ok; 01:00 failed; 02:00 never ingested.
  await apply(store, {
    outcomes: [
      okOutcome('2025-09-21T22:00:00Z', { 'Artemis (Matlab)': 1 }),
      okOutcome('2025-09-21T23:00:00Z', { 'Artemis (Matlab)': 1, 'CPU Small': 2 }),
      okOutcome('2025-09-22T00:00:00Z'),
      failedOutcome('2025-09-22T01:00:00Z'),
    ],
    entries: [
      dayEntry('PROJECT', 'IDAaaS', '2025-09-21', {
        '22:00': usage({ ARTEMIS_MATLAB: matlab }),
        '23:00': usage({ ARTEMIS_MATLAB: matlab, CPU_SMALL: small }),
      }),
      dayEntry('MACHINE', 'Artemis (Matlab)', '2025-09-21', {
        '22:00': usage({ ARTEMIS_MATLAB: matlab }),
        '23:00': usage({ ARTEMIS_MATLAB: matlab }),
      }),
      dayEntry('MACHINE', 'CPU Small', '2025-09-21', { '23:00': usage({ CPU_SMALL: small }) }),
    ],
    attemptedAt: at('2025-09-22T02:05:00Z'),
  });
});

afterEach(async () => {
  await store.close();
  await rm(dataDir, { recursive: true, force: true });
});

async function run(source: string) {
  const contextValue = createRequestContext({
    store,
    clock: fixedClock(at('2025-09-23T10:00:00Z')),
    log: silentLogger,
  });
  const result = await graphql({ schema, source, contextValue });
  expect(result.errors).toBeUndefined();
  return JSON.parse(JSON.stringify(result.data));
}

const seriesQuery = (granularity: string, from: string, to: string) => `{
  usageSeries(level: PROJECT, key: "IDAaaS", from: "${from}", to: "${to}", granularity: ${granularity}) {
    buckets { start status failedHours usage { busyKwh totalKwh } byMachine { machineName usage { busyKwh } } }
    total { busyKwh idleKwh totalGco2eq }
  }
}`;

describe('the read side over a real JSON store', () => {
  it('serves hour buckets from day entries, failed markers and all', async () => {
    const { usageSeries } = await run(seriesQuery('HOUR', '2025-09-21T22:00:00Z', '2025-09-22T03:00:00Z'));
    expect(usageSeries.buckets).toEqual([
      {
        start: '2025-09-21T22:00:00.000Z',
        status: 'OK',
        failedHours: 0,
        usage: { busyKwh: 0.5, totalKwh: 0.75 },
        byMachine: [{ machineName: 'Artemis (Matlab)', usage: { busyKwh: 0.5 } }],
      },
      {
        start: '2025-09-21T23:00:00.000Z',
        status: 'OK',
        failedHours: 0,
        usage: { busyKwh: 1.5, totalKwh: 1.875 },
        byMachine: [
          { machineName: 'Artemis (Matlab)', usage: { busyKwh: 0.5 } },
          { machineName: 'CPU Small', usage: { busyKwh: 1 } },
        ],
      },
      {
        start: '2025-09-22T00:00:00.000Z',
        status: 'OK',
        failedHours: 0,
        usage: { busyKwh: 0, totalKwh: 0 },
        byMachine: [],
      },
      { start: '2025-09-22T01:00:00.000Z', status: 'FAILED', failedHours: 1, usage: null, byMachine: [] },
      { start: '2025-09-22T02:00:00.000Z', status: 'MISSING', failedHours: 0, usage: null, byMachine: [] },
    ]);
    expect(usageSeries.total).toEqual({ busyKwh: 2, idleKwh: 0.625, totalGco2eq: 525 });
  });

  it('serves day, month and year buckets from roll-ups with the same total', async () => {
    const day = await run(seriesQuery('DAY', '2025-09-21T00:00:00Z', '2025-09-23T00:00:00Z'));
    expect(
      day.usageSeries.buckets.map((b: { status: string; failedHours: number }) => [b.status, b.failedHours]),
    ).toEqual([
      ['PARTIAL', 0],
      ['PARTIAL', 1],
    ]);
    const month = await run(seriesQuery('MONTH', '2025-09-01T00:00:00Z', '2025-10-01T00:00:00Z'));
    const year = await run(seriesQuery('YEAR', '2025-01-01T00:00:00Z', '2026-01-01T00:00:00Z'));
    for (const { usageSeries } of [day, month, year]) {
      expect(usageSeries.total).toEqual({ busyKwh: 2, idleKwh: 0.625, totalGco2eq: 525 });
    }
    expect(month.usageSeries.buckets[0]).toMatchObject({
      status: 'PARTIAL',
      failedHours: 1,
      usage: { busyKwh: 2 },
    });
    expect(year.usageSeries.buckets[0].byMachine).toEqual([
      { machineName: 'Artemis (Matlab)', usage: { busyKwh: 1 } },
      { machineName: 'CPU Small', usage: { busyKwh: 1 } },
    ]);
  });

  it('turns a failed hour OK once it is ingested again', async () => {
    await apply(store, {
      outcomes: [okOutcome('2025-09-22T01:00:00Z', { 'CPU Small': 1 })],
      entries: [dayEntry('PROJECT', 'IDAaaS', '2025-09-22', { '01:00': usage({ CPU_SMALL: small }) })],
      attemptedAt: at('2025-09-22T03:05:00Z'),
    });
    const { usageSeries } = await run(seriesQuery('HOUR', '2025-09-22T01:00:00Z', '2025-09-22T02:00:00Z'));
    expect(usageSeries.buckets).toEqual([
      {
        start: '2025-09-22T01:00:00.000Z',
        status: 'OK',
        failedHours: 0,
        usage: { busyKwh: 1, totalKwh: 1.125 },
        byMachine: [{ machineName: 'CPU Small', usage: { busyKwh: 1 } }],
      },
    ]);
  });

  it('lists keys and computes machine metrics from the stored MACHINE level and ledger', async () => {
    expect(await run('{ usageKeys(level: MACHINE) }')).toEqual({
      usageKeys: ['Artemis (Matlab)', 'CPU Small'],
    });
    expect(
      await run('{ machineMetrics(days: 7) { machineName instanceHours energyKwh { busy { average } } } }'),
    ).toEqual({
      machineMetrics: [
        { machineName: 'Artemis (Matlab)', instanceHours: 2, energyKwh: { busy: { average: 0.5 } } },
        { machineName: 'CPU Small', instanceHours: 2, energyKwh: { busy: { average: 0.5 } } },
      ],
    });
  });

  it('gives an unknown key, even one no file could hold, MISSING buckets', async () => {
    const result = await run(`{
      a: usageSeries(level: PROJECT, key: "nobody", from: "2025-09-21T22:00:00Z", to: "2025-09-21T23:00:00Z", granularity: HOUR) { buckets { status } }
      b: usageSeries(level: PROJECT, key: "", from: "2025-09-21T22:00:00Z", to: "2025-09-21T23:00:00Z", granularity: HOUR) { buckets { status } }
    }`);
    expect(result).toEqual({
      a: { buckets: [{ status: 'MISSING' }] },
      b: { buckets: [{ status: 'MISSING' }] },
    });
  });
});
