import type { Figures } from '../../../src/domain/figures';
import type { CpuName } from '../../../src/domain/metrics';
import type { LedgerHour } from '../../../src/domain/usage';
import { createUsageReader } from '../../../src/services/usage-reader';
import {
  readUsageSeries,
  readUsageSeriesMany,
  toColumns,
  type SeriesRange,
} from '../../../src/services/usage-series';
import { at, dayEntry, failedHour, memoryUsageStore, okHour, usage } from '../../support/usage-store';

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
const both = {
  busyCpuSeconds: 10800,
  idleCpuSeconds: 2700,
  busyKwh: 1.5,
  idleKwh: 0.375,
  busyGco2eq: 300,
  idleGco2eq: 75,
};
const zeros = { busyCpuSeconds: 0, idleCpuSeconds: 0, busyKwh: 0, idleKwh: 0, busyGco2eq: 0, idleGco2eq: 0 };

/** Figures as the API shows them, with the derived totals. */
const shown = (f: Pick<Figures, CpuName>) => ({
  ...f,
  totalKwh: f.busyKwh + f.idleKwh,
  totalGco2eq: f.busyGco2eq + f.idleGco2eq,
});

/** The resources of CPU-only figures: zeros, and the operational sums of the CPU's energy and carbon. */
const cpuOnlyResources = (f: Pick<Figures, CpuName>) => ({
  upHours: 0,
  memoryByteHours: 0,
  memoryBytesAvg: 0,
  diskByteHours: 0,
  diskBytesAvg: 0,
  networkReceiveBytes: 0,
  networkTransmitBytes: 0,
  memoryKwh: 0,
  storageKwh: 0,
  networkKwh: 0,
  memoryGco2eq: 0,
  storageGco2eq: 0,
  networkGco2eq: 0,
  operationalKwh: f.busyKwh + f.idleKwh,
  operationalGco2eq: f.busyGco2eq + f.idleGco2eq,
  embodiedGco2eq: 0,
});

/** Ledger records for hours [fromHour, toHour) of a UTC date. */
function ledgerHours(date: string, fromHour: number, toHour: number, record: LedgerHour) {
  const hours: Record<string, LedgerHour> = {};
  for (let h = fromHour; h < toHour; h++) hours[`${date}T${String(h).padStart(2, '0')}:00:00Z`] = record;
  return hours;
}

// 2024-12-31 22:00 and 23:00 ok with usage; 2025-01-01 00:00 ok with usage, 01:00 failed;
// 2025-01-02 05:00 failed and nothing ok; 2025-01-05 wholly ok with usage at 10:00;
// 2025-01-06 wholly ok with no usage for IDAaaS (another project used it).
const fixture = () =>
  memoryUsageStore({
    entries: [
      dayEntry('PROJECT', 'IDAaaS', '2024-12-31', {
        '22:00': usage({ ARTEMIS_MATLAB: matlab }),
        '23:00': usage({ CPU_SMALL: small }),
      }),
      dayEntry('PROJECT', 'IDAaaS', '2025-01-01', {
        '00:00': usage({ CPU_SMALL: small, ARTEMIS_MATLAB: matlab }),
        '01:00': 'failed',
      }),
      dayEntry('PROJECT', 'IDAaaS', '2025-01-02', { '05:00': 'failed' }),
      dayEntry('PROJECT', 'IDAaaS', '2025-01-05', { '10:00': usage({ ARTEMIS_MATLAB: matlab }) }),
      dayEntry('PROJECT', 'Other', '2025-01-06', { '10:00': usage({ CPU_SMALL: small }) }),
      // The MACHINE level keys machine types by their names as labelled.
      dayEntry('MACHINE', 'Artemis (Matlab)', '2024-12-31', { '22:00': usage({ ARTEMIS_MATLAB: matlab }) }),
      dayEntry('MACHINE', 'cpu.small', '2024-12-31', { '23:00': usage({ CPU_SMALL: small }) }),
    ],
    ledger: {
      '2024-12-31T22:00:00Z': okHour(),
      '2024-12-31T23:00:00Z': okHour(),
      '2025-01-01T00:00:00Z': okHour(),
      '2025-01-01T01:00:00Z': failedHour(),
      '2025-01-02T05:00:00Z': failedHour(),
      ...ledgerHours('2025-01-05', 0, 24, okHour()),
      ...ledgerHours('2025-01-06', 0, 24, okHour()),
    },
  });

const range = (granularity: SeriesRange['granularity'], from: string, to: string): SeriesRange => ({
  granularity,
  from: at(from),
  to: at(to),
});

describe('readUsageSeries', () => {
  it('buckets hours across a year edge, clipping the counted hours to [from, to) floored and ceiled to hours', async () => {
    const store = fixture();
    const series = await readUsageSeries(
      createUsageReader(store),
      'PROJECT',
      'IDAaaS',
      range('HOUR', '2024-12-31T22:30:00Z', '2025-01-01T02:30:00Z'),
    );
    expect(
      series.buckets.map(({ start, end, countedFrom, countedTo, status, failedHours }) => ({
        start: new Date(start).toISOString(),
        end: new Date(end).toISOString(),
        counted: [countedFrom - start, countedTo - end],
        status,
        failedHours,
      })),
    ).toEqual([
      {
        start: '2024-12-31T22:00:00.000Z',
        end: '2024-12-31T23:00:00.000Z',
        counted: [0, 0],
        status: 'OK',
        failedHours: 0,
      },
      {
        start: '2024-12-31T23:00:00.000Z',
        end: '2025-01-01T00:00:00.000Z',
        counted: [0, 0],
        status: 'OK',
        failedHours: 0,
      },
      {
        start: '2025-01-01T00:00:00.000Z',
        end: '2025-01-01T01:00:00.000Z',
        counted: [0, 0],
        status: 'OK',
        failedHours: 0,
      },
      {
        start: '2025-01-01T01:00:00.000Z',
        end: '2025-01-01T02:00:00.000Z',
        counted: [0, 0],
        status: 'FAILED',
        failedHours: 1,
      },
      {
        start: '2025-01-01T02:00:00.000Z',
        end: '2025-01-01T03:00:00.000Z',
        counted: [0, 0],
        status: 'MISSING',
        failedHours: 0,
      },
    ]);
    expect(series.buckets.map((b) => b.usage)).toEqual([
      shown(matlab),
      shown(small),
      shown(both),
      null,
      null,
    ]);
    expect(series.buckets[2].byMachine).toEqual([
      { machineName: 'Artemis (Matlab)', machineKey: 'ARTEMIS_MATLAB', usage: shown(matlab) },
      { machineName: 'cpu.small', machineKey: 'CPU_SMALL', usage: shown(small) },
    ]);
    expect(series.buckets[3].byMachine).toEqual([]);
    expect(series.total).toEqual(
      shown({
        busyCpuSeconds: 21600,
        idleCpuSeconds: 5400,
        busyKwh: 3,
        idleKwh: 0.75,
        busyGco2eq: 600,
        idleGco2eq: 150,
      }),
    );
    expect(series).toMatchObject({
      id: 'usage-series/PROJECT/IDAaaS/HOUR/2024-12-31T22:30:00.000Z/2025-01-01T02:30:00.000Z',
      level: 'PROJECT',
      key: 'IDAaaS',
      granularity: 'HOUR',
      from: at('2024-12-31T22:30:00Z'),
      to: at('2025-01-01T02:30:00Z'),
    });
    // Hour buckets of partial days come from day entries only.
    expect(store.calls.readDays.map((c) => c.date)).toEqual(['2024-12-31', '2025-01-01']);
    expect(store.calls.readMonths).toEqual([]);
    expect(store.calls.readYears).toEqual([]);
  });

  it('gives day buckets their full UTC bounds while counting only the hours inside [from, to)', async () => {
    const series = await readUsageSeries(
      createUsageReader(fixture()),
      'PROJECT',
      'IDAaaS',
      range('DAY', '2024-12-31T23:00:00Z', '2025-01-01T01:00:00Z'),
    );
    expect(series.buckets).toEqual([
      {
        id: 'usage-bucket/PROJECT/IDAaaS/DAY/2024-12-31T00:00:00.000Z/2024-12-31T23:00:00.000Z/2025-01-01T00:00:00.000Z',
        start: at('2024-12-31T00:00:00Z'),
        end: at('2025-01-01T00:00:00Z'),
        countedFrom: at('2024-12-31T23:00:00Z'),
        countedTo: at('2025-01-01T00:00:00Z'),
        status: 'OK',
        failedHours: 0,
        usage: shown(small),
        resources: cpuOnlyResources(small),
        byMachine: [{ machineName: 'cpu.small', machineKey: 'CPU_SMALL', usage: shown(small) }],
      },
      {
        id: 'usage-bucket/PROJECT/IDAaaS/DAY/2025-01-01T00:00:00.000Z/2025-01-01T00:00:00.000Z/2025-01-01T01:00:00.000Z',
        start: at('2025-01-01T00:00:00Z'),
        end: at('2025-01-02T00:00:00Z'),
        countedFrom: at('2025-01-01T00:00:00Z'),
        countedTo: at('2025-01-01T01:00:00Z'),
        status: 'OK',
        failedHours: 0,
        usage: shown(both),
        resources: cpuOnlyResources(both),
        byMachine: [
          { machineName: 'Artemis (Matlab)', machineKey: 'ARTEMIS_MATLAB', usage: shown(matlab) },
          { machineName: 'cpu.small', machineKey: 'CPU_SMALL', usage: shown(small) },
        ],
      },
    ]);
  });

  it('gives resources beside usage: averages over upHours, operational sums, null exactly when usage is', async () => {
    const vm = {
      ...small,
      upHours: 0.5,
      memoryByteHours: 2 ** 31,
      diskByteHours: 5e11,
      networkReceiveBytes: 1000,
      networkTransmitBytes: 24,
      memoryKwh: 0.25,
      storageKwh: 0.5,
      networkKwh: 0.125,
      memoryGco2eq: 50,
      storageGco2eq: 100,
      networkGco2eq: 25,
      embodiedGco2eq: 7,
    };
    const store = memoryUsageStore({
      entries: [dayEntry('PROJECT', 'IDAaaS', '2025-01-05', { '10:00': usage({ CPU_SMALL: vm }) })],
      ledger: { ...ledgerHours('2025-01-05', 9, 11, okHour()), '2025-01-05T11:00:00Z': failedHour() },
    });
    const series = await readUsageSeries(
      createUsageReader(store),
      'PROJECT',
      'IDAaaS',
      range('HOUR', '2025-01-05T09:00:00Z', '2025-01-05T12:00:00Z'),
    );
    const resources = {
      upHours: 0.5,
      memoryByteHours: 2 ** 31,
      memoryBytesAvg: 2 ** 32,
      diskByteHours: 5e11,
      diskBytesAvg: 1e12,
      networkReceiveBytes: 1000,
      networkTransmitBytes: 24,
      memoryKwh: 0.25,
      storageKwh: 0.5,
      networkKwh: 0.125,
      memoryGco2eq: 50,
      storageGco2eq: 100,
      networkGco2eq: 25,
      operationalKwh: 1 + 0.125 + 0.25 + 0.5 + 0.125,
      operationalGco2eq: 200 + 25 + 50 + 100 + 25,
      embodiedGco2eq: 7,
    };
    expect(series.buckets.map((bucket) => [bucket.status, bucket.resources])).toEqual([
      ['OK', cpuOnlyResources({ ...zeros })],
      ['OK', resources],
      ['FAILED', null],
    ]);
    expect(series.buckets.map((bucket) => bucket.usage === null)).toEqual([false, false, true]);
    expect(series.resourcesTotal).toEqual(resources);
  });

  it('says OK, PARTIAL, FAILED and MISSING of whole days, with zeros for an ok day without usage', async () => {
    const store = fixture();
    const series = await readUsageSeries(
      createUsageReader(store),
      'PROJECT',
      'IDAaaS',
      range('DAY', '2024-12-31T00:00:00Z', '2025-01-07T00:00:00Z'),
    );
    expect(
      series.buckets.map((b) => [
        new Date(b.start).toISOString().slice(0, 10),
        b.status,
        b.failedHours,
        b.usage,
      ]),
    ).toEqual([
      ['2024-12-31', 'PARTIAL', 0, shown(both)],
      ['2025-01-01', 'PARTIAL', 1, shown(both)],
      ['2025-01-02', 'FAILED', 1, null],
      ['2025-01-03', 'MISSING', 0, null],
      ['2025-01-04', 'MISSING', 0, null],
      ['2025-01-05', 'OK', 0, shown(matlab)],
      ['2025-01-06', 'OK', 0, shown(zeros)],
    ]);
    expect(series.buckets[6].byMachine).toEqual([]);
    expect(series.buckets[0].id).toBe('usage-bucket/PROJECT/IDAaaS/DAY/2024-12-31T00:00:00.000Z');
    // Whole days are read from month roll-ups, one read per month.
    expect(store.calls.readMonths.map((c) => c.month)).toEqual(['2024-12', '2025-01']);
    expect(store.calls.readDays).toEqual([]);
  });

  it('makes the total exactly the sum of the buckets', async () => {
    const series = await readUsageSeries(
      createUsageReader(fixture()),
      'PROJECT',
      'IDAaaS',
      range('HOUR', '2024-12-31T00:00:00Z', '2025-01-07T00:00:00Z'),
    );
    expect(series.buckets).toHaveLength(7 * 24);
    const sum = { ...zeros };
    for (const bucket of series.buckets) {
      if (!bucket.usage) continue;
      for (const field of Object.keys(zeros) as CpuName[]) sum[field] += bucket.usage[field];
    }
    expect(series.total).toEqual(shown(sum));
    expect(series.total).toEqual(
      shown({
        busyCpuSeconds: 25200,
        idleCpuSeconds: 7200,
        busyKwh: 3.5,
        idleKwh: 1,
        busyGco2eq: 700,
        idleGco2eq: 200,
      }),
    );
  });

  it('reads whole months from the year roll-up and days of a clipped month from its month roll-up', async () => {
    const store = fixture();
    const series = await readUsageSeries(
      createUsageReader(store),
      'PROJECT',
      'IDAaaS',
      range('MONTH', '2024-12-15T00:00:00Z', '2025-02-01T00:00:00Z'),
    );
    expect(
      series.buckets.map((b) => [
        new Date(b.start).toISOString(),
        new Date(b.end).toISOString(),
        b.status,
        b.failedHours,
        b.usage,
      ]),
    ).toEqual([
      ['2024-12-01T00:00:00.000Z', '2025-01-01T00:00:00.000Z', 'PARTIAL', 0, shown(both)],
      [
        '2025-01-01T00:00:00.000Z',
        '2025-02-01T00:00:00.000Z',
        'PARTIAL',
        2,
        shown({
          busyCpuSeconds: 14400,
          idleCpuSeconds: 4500,
          busyKwh: 2,
          idleKwh: 0.625,
          busyGco2eq: 400,
          idleGco2eq: 125,
        }),
      ],
    ]);
    expect(store.calls.readMonths.map((c) => c.month)).toEqual(['2024-12']);
    expect(store.calls.readYears.map((c) => c.year)).toEqual(['2025']);
    expect(store.calls.readDays).toEqual([]);
  });

  it('reads whole years from year roll-ups', async () => {
    const store = fixture();
    const series = await readUsageSeries(
      createUsageReader(store),
      'PROJECT',
      'IDAaaS',
      range('YEAR', '2024-01-01T00:00:00Z', '2026-01-01T00:00:00Z'),
    );
    expect(series.buckets.map((b) => [new Date(b.start).toISOString(), b.status, b.failedHours])).toEqual([
      ['2024-01-01T00:00:00.000Z', 'PARTIAL', 0],
      ['2025-01-01T00:00:00.000Z', 'PARTIAL', 2],
    ]);
    expect(series.buckets[0].usage).toEqual(shown(both));
    expect(store.calls.readYears.map((c) => c.year)).toEqual(['2024', '2025']);
    expect(store.calls.readMonths).toEqual([]);
    expect(store.calls.readDays).toEqual([]);
  });

  it('gives a key the store has never held MISSING buckets and a zero total', async () => {
    const series = await readUsageSeries(
      createUsageReader(fixture()),
      'PROJECT',
      'nobody',
      range('DAY', '2025-01-05T00:00:00Z', '2025-01-07T00:00:00Z'),
    );
    expect(series.buckets.map((b) => [b.status, b.failedHours, b.usage, b.byMachine])).toEqual([
      ['MISSING', 0, null, []],
      ['MISSING', 0, null, []],
    ]);
    expect(series.total).toEqual(shown(zeros));
  });

  it('answers many keys in the order given', async () => {
    const series = await readUsageSeriesMany(
      createUsageReader(fixture()),
      'PROJECT',
      ['Other', 'nobody', 'IDAaaS'],
      range('DAY', '2025-01-05T00:00:00Z', '2025-01-07T00:00:00Z'),
    );
    expect(series.map((s) => [s.key, s.buckets.map((b) => b.usage?.busyKwh ?? null)])).toEqual([
      ['Other', [0, 1]],
      ['nobody', [null, null]],
      ['IDAaaS', [0.5, 0]],
    ]);
  });
});

describe('toColumns', () => {
  it('lists the buckets field by field, null where a bucket has no usage', async () => {
    const series = await readUsageSeries(
      createUsageReader(fixture()),
      'PROJECT',
      'IDAaaS',
      range('HOUR', '2025-01-01T00:00:00Z', '2025-01-01T03:00:00Z'),
    );
    expect(toColumns(series.buckets)).toEqual({
      start: [at('2025-01-01T00:00:00Z'), at('2025-01-01T01:00:00Z'), at('2025-01-01T02:00:00Z')],
      end: [at('2025-01-01T01:00:00Z'), at('2025-01-01T02:00:00Z'), at('2025-01-01T03:00:00Z')],
      status: ['OK', 'FAILED', 'MISSING'],
      failedHours: [0, 1, 0],
      busyCpuSeconds: [10800, null, null],
      idleCpuSeconds: [2700, null, null],
      busyKwh: [1.5, null, null],
      idleKwh: [0.375, null, null],
      busyGco2eq: [300, null, null],
      idleGco2eq: [75, null, null],
      totalKwh: [1.875, null, null],
      totalGco2eq: [375, null, null],
    });
  });
});

describe('what the caller will read', () => {
  const asked = range('HOUR', '2024-12-31T21:30:00Z', '2025-01-06T12:00:00Z');
  const read = (detail?: Parameters<typeof readUsageSeries>[4]) =>
    readUsageSeries(createUsageReader(fixture()), 'PROJECT', 'IDAaaS', asked, detail);

  it('columns asked alone are summed without bucket objects, to the same numbers', async () => {
    const full = await read();
    const columnsOnly = await read({ byMachine: false, resources: false, buckets: false, columns: true });
    expect(columnsOnly.buckets).toEqual([]);
    const columns = columnsOnly.columns!;
    const expected = toColumns(full.buckets);
    for (const name of Object.keys(expected) as Array<keyof typeof expected>) {
      expect([name, columns[name]]).toEqual([name, expected[name]]);
    }
    expect(columnsOnly.total).toEqual(full.total);
    expect(columnsOnly.resourcesTotal).toEqual(full.resourcesTotal);
    expect(full.columns).toBeUndefined();
  });

  it('leaves out the resources and machines nobody reads, and bucket objects when only totals are read', async () => {
    const full = await read();
    const lean = await read({ byMachine: false, resources: false, buckets: true, columns: false });
    expect(
      lean.buckets.map((b) => [b.id, b.status, b.failedHours, b.usage, b.resources, b.byMachine]),
    ).toEqual(full.buckets.map((b) => [b.id, b.status, b.failedHours, b.usage, null, []]));
    const totalsOnly = await read({ byMachine: false, resources: false, buckets: false, columns: false });
    expect([totalsOnly.buckets, totalsOnly.columns]).toEqual([[], undefined]);
    expect([totalsOnly.total, totalsOnly.resourcesTotal]).toEqual([full.total, full.resourcesTotal]);
  });
});
