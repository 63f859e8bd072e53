import {
  type ActiveWorkspaceFilter,
  type ActiveWorkspaceRecord,
  noActiveWorkspaces,
  readActiveWorkspaces,
} from '../../../src/services/active-workspaces';

const workspace = (
  instance: string,
  project: string,
  user: string | null,
  machineName: string,
): ActiveWorkspaceRecord => ({
  instance,
  host: instance.split(':')[0],
  machineName,
  project,
  user,
  experiment: null,
  startedAt: Date.UTC(2025, 8, 21, 8),
  busyKwh: 1,
  idleKwh: 0.5,
  busyGco2eq: 200,
  idleGco2eq: 100,
});

const source = {
  status: noActiveWorkspaces.status,
  list: async () => [
    workspace('host-b:9100', 'IDAaaS', 'alice', 'Artemis (Matlab)'),
    workspace('host-a:9100', 'IDAaaS', 'bob', 'CPU Small'),
    workspace('host-c:9100', 'Other', 'alice', 'Artemis (Matlab)'),
  ],
};

const none: ActiveWorkspaceFilter = { project: null, user: null, machineName: null };

describe('readActiveWorkspaces', () => {
  it('is empty until a poller provides workspaces', async () => {
    expect(await readActiveWorkspaces(noActiveWorkspaces, none)).toEqual([]);
  });

  it('lists every workspace by instance, each with an id from its instance and start', async () => {
    const all = await readActiveWorkspaces(source, none);
    expect(all.map((w) => w.instance)).toEqual(['host-a:9100', 'host-b:9100', 'host-c:9100']);
    expect(all[0]).toEqual({
      ...workspace('host-a:9100', 'IDAaaS', 'bob', 'CPU Small'),
      id: 'active-workspace/host-a%3A9100/2025-09-21T08:00:00.000Z',
    });
  });

  it('keeps the workspaces matching every filter; a machine by its name as labelled or its machine key', async () => {
    const instances = async (filter: Partial<ActiveWorkspaceFilter>) =>
      (await readActiveWorkspaces(source, { ...none, ...filter })).map((w) => w.instance);
    expect(await instances({ project: 'IDAaaS' })).toEqual(['host-a:9100', 'host-b:9100']);
    expect(await instances({ user: 'alice' })).toEqual(['host-b:9100', 'host-c:9100']);
    expect(await instances({ machineName: 'ARTEMIS_MATLAB', project: 'Other' })).toEqual(['host-c:9100']);
    expect(await instances({ machineName: 'CPU Small' })).toEqual(['host-a:9100']);
    expect(await instances({ user: 'carol' })).toEqual([]);
  });
});
