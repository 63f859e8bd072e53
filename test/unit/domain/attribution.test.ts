import { PrometheusSchema } from '../../../src/config';
import { attribute, hostOfInstance, type WorkspaceRegistry } from '../../../src/domain/attribution';
import type { RawInstanceHour } from '../../../src/domain/usage';

const HOUR = Date.UTC(2025, 8, 21, 10);
const defaultLabels = PrometheusSchema.parse({}).labels;

/** A registry with one workspace, alice's, on ws-01 from 10:00; it records the lookups asked of it. */
function registryOfAlice(): WorkspaceRegistry & { asked: Array<[string, number]> } {
  const asked: Array<[string, number]> = [];
  return {
    asked,
    lookup(host, hourStart) {
      asked.push([host, hourStart]);
      return host === 'ws-01' && hourStart >= HOUR ? { owner: 'alice', experiment: 'RB2510001' } : undefined;
    },
  };
}

function raw(labels: Record<string, string>, instance = 'ws-01.cloud:9100'): RawInstanceHour {
  return {
    hour: HOUR,
    instance,
    labels: { instance, ...labels },
    busyCpuSeconds: 120.5,
    idleCpuSeconds: 3000,
  };
}

/** A source that measures CPU only: every other measured figure is 0. */
const noResources = {
  upHours: 0,
  memoryByteHours: 0,
  diskByteHours: 0,
  networkReceiveBytes: 0,
  networkTransmitBytes: 0,
};

describe('attribute', () => {
  it('takes project, machine and host from labels, and user and experiment from the registry', () => {
    const registry = registryOfAlice();
    const hour = raw({ cloud_project_name: 'IDAaaS', machine_name: 'Artemis (Matlab)', host: 'ws-01' });
    expect(attribute(hour, defaultLabels, registry)).toEqual({
      hour: HOUR,
      instance: 'ws-01.cloud:9100',
      host: 'ws-01',
      project: 'IDAaaS',
      machineName: 'Artemis (Matlab)',
      user: 'alice',
      experiment: 'RB2510001',
      ...noResources,
      busyCpuSeconds: 120.5,
      idleCpuSeconds: 3000,
    });
    expect(registry.asked).toEqual([['ws-01', HOUR]]);
  });

  it('falls back to the instance without its port when there is no host label', () => {
    const hour = raw({ cloud_project_name: 'IDAaaS', machine_name: 'M' }, 'ws-01:9100');
    expect(attribute(hour, defaultLabels, registryOfAlice())).toMatchObject({
      instance: 'ws-01:9100',
      host: 'ws-01',
      user: 'alice',
    });
  });

  it('counts a series without project, machine or workspace under "unknown"', () => {
    expect(attribute(raw({}, '[fd00::2]:9100'), defaultLabels, registryOfAlice())).toEqual({
      hour: HOUR,
      instance: '[fd00::2]:9100',
      host: 'fd00::2',
      project: 'unknown',
      machineName: 'unknown',
      user: 'unknown',
      experiment: 'unknown',
      ...noResources,
      busyCpuSeconds: 120.5,
      idleCpuSeconds: 3000,
    });
  });

  it('keeps the resources a source measured, and counts those it did not as 0', () => {
    const hour = {
      ...raw({ host: 'ws-01' }),
      upHours: 0.5,
      memoryByteHours: 2 ** 30,
      networkReceiveBytes: 7,
    };
    expect(attribute(hour, defaultLabels, registryOfAlice())).toMatchObject({
      ...noResources,
      upHours: 0.5,
      memoryByteHours: 2 ** 30,
      networkReceiveBytes: 7,
    });
  });

  it('gives "unknown" for a null or blank owner or experiment in the registry', () => {
    const registry: WorkspaceRegistry = { lookup: () => ({ owner: '', experiment: null }) };
    expect(attribute(raw({ host: 'ws-01' }), defaultLabels, registry)).toMatchObject({
      user: 'unknown',
      experiment: 'unknown',
    });
  });

  it('reads configured label names, and prefers user and experiment labels to the registry', () => {
    const labels = PrometheusSchema.parse({
      labels: {
        project: 'tenant',
        machine: 'flavor',
        host: 'nodename',
        user: 'owner',
        experiment: 'proposal',
      },
    }).labels;
    const registry = registryOfAlice();
    const hour = raw({
      tenant: 'ISIS',
      flavor: 'l3.nano',
      nodename: 'ws-01',
      owner: 'bob',
      proposal: 'RB99',
      cloud_project_name: 'ignored',
      host: 'ignored',
    });
    expect(attribute(hour, labels, registry)).toMatchObject({
      host: 'ws-01',
      project: 'ISIS',
      machineName: 'l3.nano',
      user: 'bob',
      experiment: 'RB99',
    });
    expect(registry.asked).toEqual([]);
  });

  it('asks the registry for what a configured label does not carry on this series', () => {
    const labels = PrometheusSchema.parse({ labels: { user: 'owner', experiment: 'proposal' } }).labels;
    expect(attribute(raw({ host: 'ws-01', owner: 'bob' }), labels, registryOfAlice())).toMatchObject({
      user: 'bob',
      experiment: 'RB2510001',
    });
    expect(attribute(raw({ host: 'ws-01', proposal: '' }), labels, registryOfAlice())).toMatchObject({
      user: 'alice',
      experiment: 'RB2510001',
    });
  });

  it('keeps keys as labelled, however long: how a store keeps a key is the store’s to say', () => {
    const long = 'p'.repeat(400);
    expect(attribute(raw({ cloud_project_name: long }), defaultLabels, registryOfAlice()).project).toBe(long);
  });

  it('looks the host up at the hour’s start', () => {
    const registry = registryOfAlice();
    const before = { ...raw({ host: 'ws-01' }), hour: HOUR - 3_600_000 };
    expect(attribute(before, defaultLabels, registry).user).toBe('unknown');
    expect(registry.asked).toEqual([['ws-01', HOUR - 3_600_000]]);
  });
});

describe('hostOfInstance', () => {
  it.each([
    ['ws-01:9100', 'ws-01'],
    ['10.0.0.1:9100', '10.0.0.1'],
    ['ws-01.example.org', 'ws-01.example.org'],
    ['[::1]:9100', '::1'],
    ['[fd00::2]', 'fd00::2'],
    ['fd00::2', 'fd00::2'],
    ['', ''],
  ])('%s → %s', (instance, host) => {
    expect(hostOfInstance(instance)).toBe(host);
  });
});
