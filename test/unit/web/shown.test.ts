import type { Columns, ResourcesData } from '../../../web/src/queries';
import { shownSeries, stackTotal, toCsv } from '../../../web/src/shown';

const COLUMNS: Columns = {
  start: ['2026-11-01T00:00:00.000Z', '2026-11-02T00:00:00.000Z', '2026-11-03T00:00:00.000Z'],
  status: ['OK', 'FAILED', 'PARTIAL'],
  failedHours: [0, 24, 3],
  busyKwh: [2, null, 1.5],
  idleKwh: [0.5, null, 0.25],
  totalKwh: [2.5, null, 1.75],
  busyGco2eq: [400, null, 300],
  idleGco2eq: [100, null, 50],
  totalGco2eq: [500, null, 350],
};

const resources = (memoryKwh: number) => ({
  memoryKwh,
  storageKwh: 0.1,
  networkKwh: 0.01,
  memoryGco2eq: memoryKwh * 200,
  storageGco2eq: 20,
  networkGco2eq: 2,
  embodiedGco2eq: 50,
});

describe('the series the dashboard shows', () => {
  it('keeps a failed bucket as no figure, never zero, in the stack and in the CSV', () => {
    const shown = shownSeries('DAY', COLUMNS, undefined);
    expect(stackTotal(shown.energy)).toEqual([2.5, null, 1.75]);
    expect(toCsv(shown)).toBe(
      'start,status,failed_hours,busy_kwh,idle_kwh,busy_gco2eq,idle_gco2eq\r\n' +
        '2026-11-01T00:00:00.000Z,OK,0,2,0.5,400,100\r\n' +
        '2026-11-02T00:00:00.000Z,FAILED,24,,,,\r\n' +
        '2026-11-03T00:00:00.000Z,PARTIAL,3,1.5,0.25,300,50\r\n',
    );
  });

  it('stacks memory, storage and network over CPU once the API has them, and writes them to the CSV', () => {
    const answer: ResourcesData['usageSeries'] = {
      id: 'series',
      resourcesTotal: resources(0.7),
      buckets: [
        { id: 'a', resources: resources(0.4) },
        { id: 'b', resources: null },
        { id: 'c', resources: resources(0.3) },
      ],
    };
    const shown = shownSeries('DAY', COLUMNS, answer);
    expect(stackTotal(shown.energy)).toEqual([2.5 + 0.4 + 0.1 + 0.01, null, 1.75 + 0.3 + 0.1 + 0.01]);
    const [header, first, failed] = toCsv(shown).split('\r\n');
    expect(header).toBe(
      'start,status,failed_hours,busy_kwh,idle_kwh,memory_kwh,storage_kwh,network_kwh,' +
        'busy_gco2eq,idle_gco2eq,memory_gco2eq,storage_gco2eq,network_gco2eq',
    );
    expect(first).toBe('2026-11-01T00:00:00.000Z,OK,0,2,0.5,0.4,0.1,0.01,400,100,80,20,2');
    expect(failed).toBe('2026-11-02T00:00:00.000Z,FAILED,24,,,,,,,,,,');
  });

  it('leaves resources out when their answer is for other buckets', () => {
    const answer: ResourcesData['usageSeries'] = {
      id: 'series',
      resourcesTotal: resources(0.7),
      buckets: [{ id: 'a', resources: resources(0.4) }],
    };
    expect(Object.keys(shownSeries('DAY', COLUMNS, answer).energy)).toEqual(['busy', 'idle']);
  });
});
