import {
  instanceHoursByMachine,
  projectsByInstance,
  toAllLevelEntries,
  toDayEntries,
} from '../../../src/aggregate/day-entries';
import { zeroFigures } from '../../../src/domain/figures';
import type { CostedInstanceHour } from '../../../src/domain/usage';

const T = (iso: string) => Date.parse(iso);

function hour(over: Partial<CostedInstanceHour> & { hour: number }): CostedInstanceHour {
  return {
    ...zeroFigures(),
    instance: 'vm1:9100',
    host: 'vm1',
    project: 'IDAaaS',
    machineName: 'Artemis (Matlab)',
    user: 'alice',
    experiment: 'RB1',
    busyCpuSeconds: 100,
    idleCpuSeconds: 3500,
    busyKwh: 1,
    idleKwh: 2,
    busyGco2eq: 3,
    idleGco2eq: 4,
    ...over,
  };
}

const six = (busyCpuSeconds: number, idleCpuSeconds: number, busyKwh: number, idleKwh: number) => ({
  ...zeroFigures(),
  busyCpuSeconds,
  idleCpuSeconds,
  busyKwh,
  idleKwh,
  busyGco2eq: busyKwh * 10,
  idleGco2eq: idleKwh * 10,
});

describe('toDayEntries', () => {
  it('groups by key and UTC day, with hour buckets, per-machine breakdown and totals', () => {
    const hours = [
      hour({ hour: T('2025-09-21T00:00Z'), ...six(10, 20, 1, 2) }),
      hour({
        hour: T('2025-09-21T00:00Z'),
        instance: 'vm2:9100',
        machineName: 'Small',
        ...six(1, 2, 0.5, 0.25),
      }),
      hour({ hour: T('2025-09-21T23:00Z'), ...six(5, 5, 3, 1) }),
      hour({ hour: T('2025-09-22T00:00Z'), ...six(7, 7, 7, 7) }),
    ];
    expect(toDayEntries('PROJECT', hours)).toEqual([
      {
        level: 'PROJECT',
        key: 'IDAaaS',
        date: '2025-09-21',
        hours: {
          '00:00': {
            all: six(11, 22, 1.5, 2.25),
            byMachine: { ARTEMIS_MATLAB: six(10, 20, 1, 2), SMALL: six(1, 2, 0.5, 0.25) },
          },
          '23:00': { all: six(5, 5, 3, 1), byMachine: { ARTEMIS_MATLAB: six(5, 5, 3, 1) } },
        },
        totals: {
          all: six(16, 27, 4.5, 3.25),
          byMachine: { ARTEMIS_MATLAB: six(15, 25, 4, 3), SMALL: six(1, 2, 0.5, 0.25) },
        },
      },
      {
        level: 'PROJECT',
        key: 'IDAaaS',
        date: '2025-09-22',
        hours: { '00:00': { all: six(7, 7, 7, 7), byMachine: { ARTEMIS_MATLAB: six(7, 7, 7, 7) } } },
        totals: { all: six(7, 7, 7, 7), byMachine: { ARTEMIS_MATLAB: six(7, 7, 7, 7) } },
      },
    ]);
  });

  it('keys each level by its own attribute, sorted by key then date', () => {
    const hours = [
      hour({
        hour: T('2025-09-21T05:00Z'),
        instance: 'b:9100',
        user: 'zoe',
        experiment: 'X',
        machineName: 'M2',
      }),
      hour({
        hour: T('2025-09-21T05:00Z'),
        instance: 'a:9100',
        user: 'amy',
        experiment: 'Y',
        machineName: 'M1',
      }),
    ];
    const keys = (level: Parameters<typeof toDayEntries>[0]) => toDayEntries(level, hours).map((e) => e.key);
    expect(keys('INSTANCE')).toEqual(['a:9100', 'b:9100']);
    expect(keys('USER')).toEqual(['amy', 'zoe']);
    expect(keys('EXPERIMENT')).toEqual(['X', 'Y']);
    expect(keys('MACHINE')).toEqual(['M1', 'M2']);
    expect(keys('PROJECT')).toEqual(['IDAaaS']);
  });

  it('returns no entries for no hours', () => {
    expect(toAllLevelEntries([])).toEqual([]);
  });

  it('builds entries at all five levels', () => {
    const entries = toAllLevelEntries([hour({ hour: T('2025-01-01T00:00Z') })]);
    expect(entries.map((e) => `${e.level}:${e.key}`)).toEqual([
      'PROJECT:IDAaaS',
      'EXPERIMENT:RB1',
      'MACHINE:Artemis (Matlab)',
      'USER:alice',
      'INSTANCE:vm1:9100',
    ]);
  });
});

describe('instanceHoursByMachine', () => {
  it('counts instance-hours per hour and machine type', () => {
    const counts = instanceHoursByMachine([
      hour({ hour: T('2025-09-21T00:00Z') }),
      hour({ hour: T('2025-09-21T00:00Z'), instance: 'vm2:9100' }),
      hour({ hour: T('2025-09-21T00:00Z'), instance: 'vm3:9100', machineName: 'Small' }),
      hour({ hour: T('2025-09-21T01:00Z') }),
    ]);
    expect([...counts.entries()]).toEqual([
      [T('2025-09-21T00:00Z'), { 'Artemis (Matlab)': 2, Small: 1 }],
      [T('2025-09-21T01:00Z'), { 'Artemis (Matlab)': 1 }],
    ]);
  });
});

describe('projectsByInstance', () => {
  it('names each instance once with every project it ran under, sorted', () => {
    const hours = [
      hour({ hour: T('2025-09-21T03:00Z'), instance: 'vm1:9100', project: 'ISIS' }),
      hour({ hour: T('2025-09-21T04:00Z'), instance: 'vm1:9100', project: 'IDAaaS' }),
      hour({ hour: T('2025-09-21T05:00Z'), instance: 'vm1:9100', project: 'ISIS' }),
      hour({ hour: T('2025-09-21T03:00Z'), instance: 'vm2:9100', project: 'CLF' }),
    ];
    expect(projectsByInstance(hours)).toEqual({ 'vm1:9100': ['IDAaaS', 'ISIS'], 'vm2:9100': ['CLF'] });
    expect(projectsByInstance([])).toEqual({});
  });
});
