import type { DayEntry } from '../../../../src/domain/usage';
import {
  dayFileText,
  journalText,
  monthFileText,
  parseJournal,
  yearFileText,
} from '../../../../src/store/json/codec';
import { parseDayFile, parseMonthFile, parseYearFile } from '../../../../src/store/json/file-parse';
import { CorruptFileError } from '../../../../src/store/json/errors';
import { NO_USAGE, allFigures, figures, usage } from '../../../support/describe-store';

const stored = (
  busyCpu: number,
  idleCpu: number,
  busyKwh: number,
  idleKwh: number,
  busyG: number,
  idleG: number,
) => ({
  busy_cpu_seconds_total: busyCpu,
  idle_cpu_seconds_total: idleCpu,
  busy_kwh: busyKwh,
  idle_kwh: idleKwh,
  busy_gCo2eq: busyG,
  idle_gCo2eq: idleG,
});

describe('day file', () => {
  const entry: DayEntry = {
    level: 'EXPERIMENT',
    key: 'RB2510001',
    date: '2025-09-01',
    hours: {
      '10:00': { all: figures(1), byMachine: { SMALL: figures(1) } },
      '09:00': 'failed',
      '02:00': { all: figures(2), byMachine: { SMALL: figures(1), ARTEMIS_MATLAB: figures(1) } },
    },
    totals: { all: figures(3), byMachine: { SMALL: figures(2), ARTEMIS_MATLAB: figures(1) } },
  };

  it('is the seed shape: key field, DD_MM_YYYY date, totals first, hours in time order, machines by name', () => {
    expect(dayFileText(entry)).toBe(
      JSON.stringify(
        {
          experiment: 'RB2510001',
          date: '01_09_2025',
          timeseries: {
            totals: {
              all: stored(300, 30, 0.75, 0.1875, 150, 15),
              ARTEMIS_MATLAB: stored(100, 10, 0.25, 0.0625, 50, 5),
              SMALL: stored(200, 20, 0.5, 0.125, 100, 10),
            },
            '02:00': {
              all: stored(200, 20, 0.5, 0.125, 100, 10),
              ARTEMIS_MATLAB: stored(100, 10, 0.25, 0.0625, 50, 5),
              SMALL: stored(100, 10, 0.25, 0.0625, 50, 5),
            },
            '09:00': {
              all: stored(...(Array(6).fill('failed') as [never, never, never, never, never, never])),
            },
            '10:00': {
              all: stored(100, 10, 0.25, 0.0625, 50, 5),
              SMALL: stored(100, 10, 0.25, 0.0625, 50, 5),
            },
          },
        },
        null,
        2,
      ) + '\n',
    );
  });

  it('reads back what it wrote', () => {
    expect(parseDayFile(dayFileText(entry), '/d.json', 'EXPERIMENT', 'RB2510001', '2025-09-01')).toEqual(
      entry,
    );
  });

  it('writes the resources beside the six under each machine key, and reads a store without them as 0', () => {
    const withResources = allFigures(2);
    const resourceful: DayEntry = {
      ...entry,
      hours: { '05:00': { all: withResources, byMachine: { SMALL: withResources } } },
      totals: { all: withResources, byMachine: { SMALL: withResources } },
    };
    const text = dayFileText(resourceful);
    const written = JSON.parse(text) as { timeseries: { totals: { SMALL: Record<string, number> } } };
    expect(Object.keys(written.timeseries.totals.SMALL)).toEqual([
      ...Object.keys(stored(0, 0, 0, 0, 0, 0)),
      'up_hours',
      'memory_byte_hours',
      'disk_byte_hours',
      'network_receive_bytes',
      'network_transmit_bytes',
      'memory_kwh',
      'storage_kwh',
      'network_kwh',
      'memory_gCo2eq',
      'storage_gCo2eq',
      'network_gCo2eq',
      'embodied_gCo2eq',
    ]);
    expect(parseDayFile(text, '/d.json', 'EXPERIMENT', 'RB2510001', '2025-09-01')).toEqual(resourceful);

    const seedOnly = JSON.stringify({ timeseries: { totals: { all: stored(1, 2, 3, 4, 5, 6) } } });
    const old = parseDayFile(seedOnly, '/d.json', 'PROJECT', 'x', '2025-09-01');
    expect(old.totals.all).toEqual({
      ...figures(0),
      ...{ busyCpuSeconds: 1, idleCpuSeconds: 2 },
      busyKwh: 3,
      idleKwh: 4,
      busyGco2eq: 5,
      idleGco2eq: 6,
    });
  });

  it.each([
    [
      'with a resource figure that is not a number',
      JSON.stringify({ timeseries: { totals: { all: { ...stored(0, 0, 0, 0, 0, 0), up_hours: '1' } } } }),
      'timeseries.totals.all.up_hours is not a number',
    ],
    ['not JSON', '{"experiment":', 'not valid JSON'],
    ['without timeseries', '{"experiment": "x"}', 'timeseries is not an object'],
    [
      'with a stray field',
      JSON.stringify({ timeseries: { totals: { all: stored(0, 0, 0, 0, 0, 0) }, later: {} } }),
      'timeseries has an unexpected field "later"',
    ],
    [
      'with a figure missing',
      JSON.stringify({ timeseries: { totals: { all: { busy_kwh: 1 } } } }),
      'timeseries.totals.all.busy_cpu_seconds_total is not a number',
    ],
    [
      'with an hour only partly failed',
      JSON.stringify({
        timeseries: {
          totals: { all: stored(0, 0, 0, 0, 0, 0) },
          '01:00': { all: { ...stored(0, 0, 0, 0, 0, 0), busy_kwh: 'failed' } },
        },
      }),
      'timeseries.01:00.all.busy_kwh is not a number',
    ],
  ])('names the file when it is %s', (_, text, reason) => {
    const parse = () => parseDayFile(text, '/d.json', 'PROJECT', 'x', '2025-09-01');
    expect(parse).toThrow(CorruptFileError);
    expect(parse).toThrow(`Corrupt store file /d.json: ${reason}`);
  });
});

describe('roll-up files', () => {
  it('hold the key field, the period, the totals and the parts in order, and read back', () => {
    const month = {
      level: 'MACHINE' as const,
      key: 'Artemis (Matlab)',
      month: '2025-09',
      days: { '2025-09-02': usage(1), '2025-09-01': NO_USAGE },
      totals: usage(1),
    };
    const text = monthFileText(month);
    expect(JSON.parse(text)).toEqual({
      machine_name: 'Artemis (Matlab)',
      month: '2025-09',
      totals: { all: stored(100, 10, 0.25, 0.0625, 50, 5), SMALL: stored(100, 10, 0.25, 0.0625, 50, 5) },
      days: {
        '2025-09-01': { all: stored(0, 0, 0, 0, 0, 0) },
        '2025-09-02': {
          all: stored(100, 10, 0.25, 0.0625, 50, 5),
          SMALL: stored(100, 10, 0.25, 0.0625, 50, 5),
        },
      },
    });
    expect(Object.keys(JSON.parse(text).days)).toEqual(['2025-09-01', '2025-09-02']);
    expect(parseMonthFile(text, '/m.json', 'MACHINE', 'Artemis (Matlab)', '2025-09')).toEqual(month);

    const year = {
      level: 'INSTANCE' as const,
      key: 'h:1',
      year: '2025',
      months: { '2025-09': usage(1) },
      totals: usage(1),
    };
    expect(JSON.parse(yearFileText(year))).toEqual({
      instance: 'h:1',
      year: '2025',
      totals: { all: stored(100, 10, 0.25, 0.0625, 50, 5), SMALL: stored(100, 10, 0.25, 0.0625, 50, 5) },
      months: {
        '2025-09': { all: stored(100, 10, 0.25, 0.0625, 50, 5), SMALL: stored(100, 10, 0.25, 0.0625, 50, 5) },
      },
    });
    expect(parseYearFile(yearFileText(year), '/y.json', 'INSTANCE', 'h:1', '2025')).toEqual(year);
  });
});

describe('journal', () => {
  it('lists months and reads them back', () => {
    const months = [{ level: 'USER' as const, key: 'a/b', month: '2025-09' }];
    expect(parseJournal(journalText(months), '/j.json')).toEqual(months);
  });

  it('names the file when an entry is not a month of a level', () => {
    const text = JSON.stringify({ months: [{ level: 'TEAM', key: 'a', month: '2025-09' }] });
    expect(() => parseJournal(text, '/j.json')).toThrow(
      'Corrupt store file /j.json: months[0].level is not a level',
    );
  });
});
