import { graphql, type GraphQLSchema } from 'graphql';
import { fixedClock } from '../../../src/domain/clock';
import { silentLogger } from '../../../src/log';
import { buildAppSchema, createRequestContext } from '../../../src/app-schema';
import { presented } from '../../../src/services/precision';
import type { ActiveWorkspaceSource } from '../../../src/services/active-workspaces';
import type { Store } from '../../../src/store/store';
import { at, dayEntry, failedHour, memoryUsageStore, okHour, usage } from '../../support/usage-store';

let schema: GraphQLSchema;
beforeAll(async () => {
  schema = await buildAppSchema();
});

const matlab = {
  busyCpuSeconds: 3600,
  idleCpuSeconds: 1800,
  busyKwh: 0.5,
  idleKwh: 0.25,
  busyGco2eq: 100,
  idleGco2eq: 50,
};

const fixture = () =>
  memoryUsageStore({
    entries: [
      dayEntry('PROJECT', 'IDAaaS', '2025-09-21', { '23:00': usage({ ARTEMIS_MATLAB: matlab }) }),
      dayEntry('PROJECT', 'IDAaaS', '2025-09-22', {
        '00:00': usage({ ARTEMIS_MATLAB: matlab }),
        '01:00': 'failed',
      }),
      dayEntry('PROJECT', 'Another', '2025-09-22', { '00:00': usage({ CPU_SMALL: matlab }) }),
      dayEntry('MACHINE', 'Artemis (Matlab)', '2025-09-22', { '00:00': usage({ ARTEMIS_MATLAB: matlab }) }),
    ],
    ledger: {
      '2025-09-21T23:00:00Z': okHour({ 'Artemis (Matlab)': 1 }),
      '2025-09-22T00:00:00Z': okHour({ 'Artemis (Matlab)': 2 }),
      '2025-09-22T01:00:00Z': failedHour(),
    },
  });

async function run(
  source: string,
  variableValues?: Record<string, unknown>,
  deps: { store?: Store; activeWorkspaces?: ActiveWorkspaceSource } = {},
) {
  const contextValue = createRequestContext({
    store: deps.store ?? fixture(),
    clock: fixedClock(at('2025-09-23T10:00:00Z')),
    log: silentLogger,
    activeWorkspaces: deps.activeWorkspaces,
  });
  return JSON.parse(JSON.stringify(await graphql({ schema, source, variableValues, contextValue })));
}

const figures = 'busyCpuSeconds idleCpuSeconds busyKwh idleKwh busyGco2eq idleGco2eq totalKwh totalGco2eq';
const shownMatlab = { ...matlab, totalKwh: 0.75, totalGco2eq: 150 };

describe('usageSeries', () => {
  it('names each byMachine entry as the MACHINE level keys it, so the name works as a MACHINE key', async () => {
    const split = await run(`{
      usageSeries(level: PROJECT, key: "IDAaaS", from: "2025-09-22", to: "2025-09-23", granularity: DAY) {
        buckets { byMachine { machineName machineKey usage { busyKwh } } }
      }
    }`);
    const [machine] = split.data.usageSeries.buckets[0].byMachine;
    expect(machine).toEqual({
      machineName: 'Artemis (Matlab)',
      machineKey: 'ARTEMIS_MATLAB',
      usage: { busyKwh: 0.5 },
    });
    const fedBack = await run(
      `query($key: String!) {
        usageKeys(level: MACHINE)
        usageSeries(level: MACHINE, key: $key, from: "2025-09-22", to: "2025-09-23", granularity: DAY) {
          buckets { status usage { busyKwh } }
        }
      }`,
      { key: machine.machineName },
    );
    expect(fedBack.data.usageKeys).toContain(machine.machineName);
    expect(fedBack.data.usageSeries.buckets).toEqual([{ status: 'PARTIAL', usage: { busyKwh: 0.5 } }]);
  });

  it('reads a machine key (byMachine.machineKey) at the MACHINE level as the machine type it names', async () => {
    const asked = (key: string) =>
      run(
        `query($keys: [String!]!) {
          usageSeriesMany(level: MACHINE, keys: $keys, from: "2025-09-22", to: "2025-09-23", granularity: DAY) {
            key buckets { status usage { busyKwh } }
          }
        }`,
        { keys: [key, 'NOT_A_MACHINE'] },
      );
    const byKey = await asked('ARTEMIS_MATLAB');
    const byName = await asked('Artemis (Matlab)');
    expect(byKey).toEqual(byName);
    expect(byKey.data.usageSeriesMany[0]).toEqual({
      key: 'Artemis (Matlab)',
      buckets: [{ status: 'PARTIAL', usage: { busyKwh: 0.5 } }],
    });
    // A key naming no stored machine type stays unknown: MISSING, not an error.
    expect(byKey.data.usageSeriesMany[1]).toEqual({
      key: 'NOT_A_MACHINE',
      buckets: [{ status: 'MISSING', usage: null }],
    });
  });

  it('answers every field, with full UTC bucket bounds and the counted hours clipped to [from, to)', async () => {
    const result = await run(`{
      usageSeries(level: PROJECT, key: "IDAaaS", from: "2025-09-21T23:00:00Z", to: "2025-09-22T02:00:00Z", granularity: DAY) {
        id level key granularity from to
        buckets { id start end countedFrom countedTo status failedHours usage { ${figures} } byMachine { machineName usage { busyKwh } } }
        total { ${figures} }
      }
    }`);
    expect(result).toEqual({
      data: {
        usageSeries: {
          id: 'usage-series/PROJECT/IDAaaS/DAY/2025-09-21T23:00:00.000Z/2025-09-22T02:00:00.000Z',
          level: 'PROJECT',
          key: 'IDAaaS',
          granularity: 'DAY',
          from: '2025-09-21T23:00:00.000Z',
          to: '2025-09-22T02:00:00.000Z',
          buckets: [
            {
              id: 'usage-bucket/PROJECT/IDAaaS/DAY/2025-09-21T00:00:00.000Z/2025-09-21T23:00:00.000Z/2025-09-22T00:00:00.000Z',
              start: '2025-09-21T00:00:00.000Z',
              end: '2025-09-22T00:00:00.000Z',
              countedFrom: '2025-09-21T23:00:00.000Z',
              countedTo: '2025-09-22T00:00:00.000Z',
              status: 'OK',
              failedHours: 0,
              usage: shownMatlab,
              byMachine: [{ machineName: 'Artemis (Matlab)', usage: { busyKwh: 0.5 } }],
            },
            {
              id: 'usage-bucket/PROJECT/IDAaaS/DAY/2025-09-22T00:00:00.000Z/2025-09-22T00:00:00.000Z/2025-09-22T02:00:00.000Z',
              start: '2025-09-22T00:00:00.000Z',
              end: '2025-09-23T00:00:00.000Z',
              countedFrom: '2025-09-22T00:00:00.000Z',
              countedTo: '2025-09-22T02:00:00.000Z',
              status: 'PARTIAL',
              failedHours: 1,
              usage: shownMatlab,
              byMachine: [{ machineName: 'Artemis (Matlab)', usage: { busyKwh: 0.5 } }],
            },
          ],
          total: {
            busyCpuSeconds: 7200,
            idleCpuSeconds: 3600,
            busyKwh: 1,
            idleKwh: 0.5,
            busyGco2eq: 200,
            idleGco2eq: 100,
            totalKwh: 1.5,
            totalGco2eq: 300,
          },
        },
      },
    });
  });

  it('serves the buckets as columns too', async () => {
    const result = await run(`{
      usageSeries(level: PROJECT, key: "IDAaaS", from: "2025-09-22T00:00:00Z", to: "2025-09-22T03:00:00Z", granularity: HOUR) {
        columns { start end status failedHours busyKwh totalGco2eq }
      }
    }`);
    expect(result.data.usageSeries.columns).toEqual({
      start: ['2025-09-22T00:00:00.000Z', '2025-09-22T01:00:00.000Z', '2025-09-22T02:00:00.000Z'],
      end: ['2025-09-22T01:00:00.000Z', '2025-09-22T02:00:00.000Z', '2025-09-22T03:00:00.000Z'],
      status: ['OK', 'FAILED', 'MISSING'],
      failedHours: [0, 1, 0],
      busyKwh: [0.5, null, null],
      totalGco2eq: [150, null, null],
    });
  });

  it('reads once per (level, day) for aliased series and usageSeriesMany in one query', async () => {
    const store = fixture();
    const result = await run(
      `query ($from: DateTime!, $to: DateTime!) {
        a: usageSeries(level: PROJECT, key: "IDAaaS", from: $from, to: $to, granularity: HOUR) { total { busyKwh } }
        b: usageSeries(level: PROJECT, key: "Another", from: $from, to: $to, granularity: HOUR) { total { busyKwh } }
        many: usageSeriesMany(level: PROJECT, keys: ["Another", "unknown", "IDAaaS"], from: $from, to: $to, granularity: HOUR) {
          key buckets { status }
        }
      }`,
      { from: '2025-09-21T23:00:00Z', to: '2025-09-22T01:00:00Z' },
      { store },
    );
    expect(result.data.a.total.busyKwh).toBe(1);
    expect(result.data.b.total.busyKwh).toBe(0.5);
    expect(result.data.many).toEqual([
      { key: 'Another', buckets: [{ status: 'OK' }, { status: 'OK' }] },
      { key: 'unknown', buckets: [{ status: 'MISSING' }, { status: 'MISSING' }] },
      { key: 'IDAaaS', buckets: [{ status: 'OK' }, { status: 'OK' }] },
    ]);
    expect(store.calls.readDays).toEqual([
      { level: 'PROJECT', date: '2025-09-21', keys: ['IDAaaS', 'Another', 'unknown'] },
      { level: 'PROJECT', date: '2025-09-22', keys: ['IDAaaS', 'Another', 'unknown'] },
    ]);
    expect(store.calls.readLedger).toEqual(['2025-09']);
    expect(store.calls.listKeys).toEqual(['PROJECT']);
  });
});

describe('usageKeys', () => {
  it('lists the keys of a level, sorted', async () => {
    expect(await run('{ usageKeys(level: PROJECT) }')).toEqual({
      data: { usageKeys: ['Another', 'IDAaaS'] },
    });
    expect(await run('{ usageKeys(level: USER) }')).toEqual({ data: { usageKeys: [] } });
  });
});

describe('machineMetrics', () => {
  it('averages over the last 365 whole days by default', async () => {
    const result = await run(`{
      machineMetrics { id machineName instanceHours energyKwh { busy { average } idle { average } } carbonGco2eq { busy { average } idle { average } } }
    }`);
    expect(result).toEqual({
      data: {
        machineMetrics: [
          {
            id: 'machine-metrics/Artemis%20(Matlab)/365',
            machineName: 'Artemis (Matlab)',
            instanceHours: 3,
            energyKwh: { busy: { average: presented(0.5 / 3) }, idle: { average: presented(0.25 / 3) } },
            carbonGco2eq: { busy: { average: presented(100 / 3) }, idle: { average: presented(50 / 3) } },
          },
        ],
      },
    });
  });

  it('takes a machine name and a number of days', async () => {
    const result = await run(
      '{ machineMetrics(machineName: "ARTEMIS_MATLAB", days: 1) { id instanceHours } }',
    );
    expect(result).toEqual({
      data: { machineMetrics: [{ id: 'machine-metrics/Artemis%20(Matlab)/1', instanceHours: 2 }] },
    });
  });
});

describe('activeWorkspaces', () => {
  it('is empty by default', async () => {
    expect(await run('{ activeWorkspaces { id } }')).toEqual({ data: { activeWorkspaces: [] } });
  });

  it('says, with no poller, that nothing is known rather than that nothing runs', async () => {
    expect(await run('{ activeWorkspacesStatus { takenAt lastPollFailed stale } }')).toEqual({
      data: { activeWorkspacesStatus: { takenAt: null, lastPollFailed: false, stale: true } },
    });
  });

  it("answers the source's status: when its snapshot was taken and whether the last poll failed", async () => {
    const activeWorkspaces: ActiveWorkspaceSource = {
      list: async () => [],
      status: () => ({ takenAt: at('2025-09-23T08:01:00Z'), lastPollFailed: true, stale: false }),
    };
    expect(
      await run('{ activeWorkspacesStatus { takenAt lastPollFailed stale } }', {}, { activeWorkspaces }),
    ).toEqual({
      data: {
        activeWorkspacesStatus: { takenAt: '2025-09-23T08:01:00.000Z', lastPollFailed: true, stale: false },
      },
    });
  });

  it('answers the status of the list a read gets, after any poll that read starts', async () => {
    let polled = false;
    const activeWorkspaces: ActiveWorkspaceSource = {
      list: async () => {
        await new Promise((resolve) => setTimeout(resolve, 10));
        polled = true;
        return [];
      },
      status: () => ({ takenAt: polled ? 0 : null, lastPollFailed: false, stale: !polled }),
    };
    expect(await run('{ activeWorkspacesStatus { stale } }', {}, { activeWorkspaces })).toEqual({
      data: { activeWorkspacesStatus: { stale: false } },
    });
  });

  it('serves what the source lists, filtered', async () => {
    const activeWorkspaces: ActiveWorkspaceSource = {
      status: () => ({ takenAt: 0, lastPollFailed: false, stale: false }),
      list: async () => [
        {
          instance: 'host-a:9100',
          host: 'host-a',
          machineName: 'Artemis (Matlab)',
          project: 'IDAaaS',
          user: 'alice',
          experiment: null,
          startedAt: at('2025-09-23T08:00:00Z'),
          busyKwh: 1,
          idleKwh: 0.5,
          busyGco2eq: 200,
          idleGco2eq: 100,
        },
      ],
    };
    const query = `query ($project: String) {
      activeWorkspaces(project: $project, machineName: "ARTEMIS_MATLAB") {
        id instance host machineName project user experiment startedAt busyKwh idleKwh busyGco2eq idleGco2eq
      }
    }`;
    expect(await run(query, { project: 'IDAaaS' }, { activeWorkspaces })).toEqual({
      data: {
        activeWorkspaces: [
          {
            id: 'active-workspace/host-a%3A9100/2025-09-23T08:00:00.000Z',
            instance: 'host-a:9100',
            host: 'host-a',
            machineName: 'Artemis (Matlab)',
            project: 'IDAaaS',
            user: 'alice',
            experiment: null,
            startedAt: '2025-09-23T08:00:00.000Z',
            busyKwh: 1,
            idleKwh: 0.5,
            busyGco2eq: 200,
            idleGco2eq: 100,
          },
        ],
      },
    });
    expect(await run(query, { project: 'Other' }, { activeWorkspaces })).toEqual({
      data: { activeWorkspaces: [] },
    });
  });
});
