import { fixedClock } from '../../../src/domain/clock';
import { readMachineMetrics } from '../../../src/services/machine-metrics';
import { createUsageReader } from '../../../src/services/usage-reader';
import { at, dayEntry, failedHour, memoryUsageStore, okHour, usage } from '../../support/usage-store';

const perHour = { busyKwh: 1, idleKwh: 0.5, busyGco2eq: 200, idleGco2eq: 100 };

// Now is 2025-09-23 10:00, so `days: 2` is [2025-09-21, 2025-09-23): the 20th and today fall outside.
const clock = fixedClock(at('2025-09-23T10:00:00Z'));
const fixture = () =>
  memoryUsageStore({
    entries: [
      dayEntry('MACHINE', 'Artemis (Matlab)', '2025-09-20', {
        '12:00': usage({ ARTEMIS_MATLAB: { busyKwh: 2, idleKwh: 1, busyGco2eq: 400, idleGco2eq: 200 } }),
      }),
      dayEntry('MACHINE', 'Artemis (Matlab)', '2025-09-21', {
        '10:00': usage({ ARTEMIS_MATLAB: perHour }),
        '11:00': usage({ ARTEMIS_MATLAB: perHour }),
      }),
      dayEntry('MACHINE', 'Artemis (Matlab)', '2025-09-23', {
        '05:00': usage({ ARTEMIS_MATLAB: { busyKwh: 100 } }),
      }),
      dayEntry('MACHINE', 'CPU Small', '2025-09-22', {
        '03:00': usage({ CPU_SMALL: { busyKwh: 3, idleKwh: 1, busyGco2eq: 600, idleGco2eq: 200 } }),
      }),
      dayEntry('MACHINE', 'Old type', '2025-09-20', { '12:00': usage({ OLD_TYPE: { busyKwh: 0.5 } }) }),
    ],
    ledger: {
      '2025-09-20T12:00:00Z': okHour({ 'Artemis (Matlab)': 4, 'Old type': 1 }),
      '2025-09-21T10:00:00Z': okHour({ 'Artemis (Matlab)': 2 }),
      '2025-09-21T11:00:00Z': okHour({ 'Artemis (Matlab)': 2 }),
      '2025-09-22T03:00:00Z': okHour({ 'CPU Small': 4 }),
      '2025-09-22T04:00:00Z': failedHour(),
      '2025-09-23T05:00:00Z': okHour({ 'Artemis (Matlab)': 7 }),
    },
  });

const metric = (machineName: string, days: number, instanceHours: number, averages: number[]) => ({
  id: `machine-metrics/${encodeURIComponent(machineName)}/${days}`,
  machineName,
  energyKwh: { busy: { average: averages[0] }, idle: { average: averages[1] } },
  carbonGco2eq: { busy: { average: averages[2] }, idle: { average: averages[3] } },
  instanceHours,
});

describe('readMachineMetrics', () => {
  it('divides each machine type’s figures over the last whole days by its instance-hours, leaving out types without any', async () => {
    const metrics = await readMachineMetrics(createUsageReader(fixture()), clock, {
      machineName: null,
      days: 2,
    });
    expect(metrics).toEqual([
      metric('Artemis (Matlab)', 2, 4, [0.5, 0.25, 100, 50]),
      metric('CPU Small', 2, 4, [0.75, 0.25, 150, 50]),
    ]);
  });

  it('widens the window with `days`, reading roll-ups rather than days', async () => {
    const store = fixture();
    const metrics = await readMachineMetrics(createUsageReader(store), clock, {
      machineName: null,
      days: 365,
    });
    expect(metrics).toEqual([
      metric('Artemis (Matlab)', 365, 8, [0.5, 0.25, 100, 50]),
      metric('CPU Small', 365, 4, [0.75, 0.25, 150, 50]),
      metric('Old type', 365, 1, [0.5, 0, 0, 0]),
    ]);
    // [2024-09-23, 2025-09-23): days of 2024-09, months of 2024 and 2025, days of 2025-09.
    expect(store.calls.readMonths.map((c) => [c.month, c.keys.length])).toEqual([
      ['2024-09', 3],
      ['2025-09', 3],
    ]);
    expect(store.calls.readYears.map((c) => [c.year, c.keys.length])).toEqual([
      ['2024', 3],
      ['2025', 3],
    ]);
    expect(store.calls.readDays).toEqual([]);
  });

  it('finds one machine type by its name as labelled or by its machine key', async () => {
    for (const machineName of ['Artemis (Matlab)', 'ARTEMIS_MATLAB']) {
      const metrics = await readMachineMetrics(createUsageReader(fixture()), clock, { machineName, days: 2 });
      expect(metrics).toEqual([metric('Artemis (Matlab)', 2, 4, [0.5, 0.25, 100, 50])]);
    }
    expect(
      await readMachineMetrics(createUsageReader(fixture()), clock, { machineName: 'GPU', days: 2 }),
    ).toEqual([]);
  });

  it('matches ledger names to MACHINE keys stored as machine keys too', async () => {
    const store = memoryUsageStore({
      entries: [
        dayEntry('MACHINE', 'ARTEMIS_MATLAB', '2025-09-22', { '01:00': usage({ ARTEMIS_MATLAB: perHour }) }),
      ],
      ledger: { '2025-09-22T01:00:00Z': okHour({ 'Artemis (Matlab)': 2 }) },
    });
    expect(await readMachineMetrics(createUsageReader(store), clock, { machineName: null, days: 1 })).toEqual(
      [metric('ARTEMIS_MATLAB', 1, 2, [0.5, 0.25, 100, 50])],
    );
  });
});
