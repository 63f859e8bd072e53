import { zeroFigures } from '../../../../src/domain/figures';
import { EnergySchema, PrometheusSchema } from '../../../../src/config';
import type { HourIntensity } from '../../../../src/domain/usage';
import {
  liveUsage,
  meanIntensity,
  readingsOf,
  type LiveReading,
  type LiveUsageInputs,
  type RunTally,
} from '../../../../src/plugins/active/live-usage';
import type { VectorSample } from '../../../../src/plugins/prometheus/client';
import { createWorkspaceRegistry } from '../../../../src/plugins/workspaces/registry';

const at = (iso: string): number => Date.parse(iso);

function intensities(byHour: Record<string, number>): Map<number, HourIntensity> {
  return new Map(
    Object.entries(byHour).map(([iso, gPerKwh]) => [at(iso), { gPerKwh, estimated: false, source: 'test' }]),
  );
}

describe('meanIntensity', () => {
  const byHour = intensities({ '2025-09-21T10:00:00Z': 100, '2025-09-21T11:00:00Z': 300 });

  it('weights each hour by the time of [from, to] it holds', () => {
    expect(meanIntensity(byHour, at('2025-09-21T10:30:00Z'), at('2025-09-21T11:15:00Z'))).toBeCloseTo(
      (30 * 100 + 15 * 300) / 45,
      12,
    );
    expect(meanIntensity(byHour, at('2025-09-21T11:05:00Z'), at('2025-09-21T11:06:00Z'))).toBe(300);
  });

  it('takes the hour holding `to` when the interval is empty, and refuses a missing hour', () => {
    expect(meanIntensity(byHour, at('2025-09-21T11:20:00Z'), at('2025-09-21T11:20:00Z'))).toBe(300);
    expect(meanIntensity(byHour, at('2025-09-21T11:50:00Z'), at('2025-09-21T11:20:00Z'))).toBe(300);
    expect(() => meanIntensity(byHour, at('2025-09-21T09:59:00Z'), at('2025-09-21T10:20:00Z'))).toThrow(
      'no carbon intensity for 2025-09-21T09:00:00.000Z',
    );
  });
});

const sample = (metric: Record<string, string>, value: string): VectorSample => ({
  metric,
  value: [1758454200, value],
});

describe('readingsOf', () => {
  it('joins idle and busy by series and the boot time by instance; a missing side counts 0', () => {
    const a = { instance: 'a:9100', job: 'node', cloud_project_name: 'P' };
    const d = { instance: 'd:9100', job: 'node' };
    const { readings, skipped } = readingsOf(
      [sample(a, '100.5')],
      [sample(a, '50'), sample(d, '7')],
      [sample({ instance: 'a:9100' }, '1758441600'), sample({ instance: 'd:9100' }, '1758441601.5')],
    );
    expect(readings).toEqual([
      {
        key: JSON.stringify([
          ['cloud_project_name', 'P'],
          ['instance', 'a:9100'],
          ['job', 'node'],
        ]),
        instance: 'a:9100',
        labels: a,
        startedAt: 1758441600000,
        busyCpuSeconds: 50,
        idleCpuSeconds: 100.5,
      },
      expect.objectContaining({
        instance: 'd:9100',
        startedAt: 1758441601500,
        busyCpuSeconds: 7,
        idleCpuSeconds: 0,
      }),
    ]);
    expect(skipped).toEqual([]);
  });

  it('leaves out a series with a broken counter or no boot time, saying why', () => {
    const { readings, skipped } = readingsOf(
      [sample({ instance: 'b:9100' }, 'NaN'), sample({ instance: 'c:9100' }, '5')],
      [
        sample({ instance: 'b:9100' }, '1'),
        sample({ instance: 'c:9100' }, '2'),
        sample({ instance: 'e:9100' }, '-1'),
      ],
      [sample({ instance: 'b:9100' }, '1758441600'), sample({ instance: 'e:9100' }, '1758441600')],
    );
    expect(readings).toEqual([]);
    expect(skipped).toEqual([
      { instance: 'b:9100', reason: 'idle CPU seconds "NaN"' },
      { instance: 'c:9100', reason: 'no valid node_boot_time_seconds' },
      { instance: 'e:9100', reason: 'busy CPU seconds "-1"' },
    ]);
  });
});

describe('liveUsage', () => {
  const labels = PrometheusSchema.parse({}).labels;
  // Default model: 12 W per busy core, 1 W per idle core, PUE 1.
  const energy = EnergySchema.parse({ machines: { 'Artemis (Matlab)': { busyWattsPerCore: 24 } } });
  const registry = createWorkspaceRegistry([
    {
      hostname: 'ws-01',
      owner: 'alice',
      experiment: null,
      created_time: at('2025-09-01T00:00:00Z'),
      deleted_time: null,
    },
  ]);
  const byHour = intensities({ '2025-09-21T10:00:00Z': 100, '2025-09-21T11:00:00Z': 300 });
  const inputsAt = (iso: string): LiveUsageInputs => ({
    now: at(iso),
    labels,
    registry,
    energy,
    intensities: byHour,
  });
  const reading = (startedAt: string, busyCpuSeconds: number, idleCpuSeconds: number): LiveReading => ({
    key: 'ws-01',
    instance: '10.0.0.1:9100',
    labels: {
      instance: '10.0.0.1:9100',
      cloud_project_name: 'IDAaaS',
      machine_name: 'Standard',
      host: 'ws-01',
    },
    startedAt: at(startedAt),
    busyCpuSeconds,
    idleCpuSeconds,
  });
  const none = new Map<string, RunTally>();

  it('attributes a reading by labels and the registry, unknowns as null', () => {
    const other: LiveReading = {
      key: 'other',
      instance: 'ws-02:9100',
      labels: { instance: 'ws-02:9100', machine_name: 'Artemis (Matlab)' },
      startedAt: at('2025-09-21T11:00:00Z'),
      busyCpuSeconds: 300,
      idleCpuSeconds: 0,
    };
    const { workspaces } = liveUsage(
      [reading('2025-09-21T10:30:00Z', 0, 0), other],
      none,
      inputsAt('2025-09-21T11:30:00Z'),
    );
    expect(
      workspaces.map(({ instance, host, project, machineName, user, experiment }) => ({
        instance,
        host,
        project,
        machineName,
        user,
        experiment,
      })),
    ).toEqual([
      {
        instance: '10.0.0.1:9100',
        host: 'ws-01',
        project: 'IDAaaS',
        machineName: 'Standard',
        user: 'alice',
        experiment: null,
      },
      {
        instance: 'ws-02:9100',
        host: 'ws-02',
        project: 'unknown',
        machineName: 'Artemis (Matlab)',
        user: null,
        experiment: null,
      },
    ]);
    // The machine's own busy watts: 300 s × 24 W.
    expect(workspaces[1].busyKwh).toBeCloseTo((300 * 24) / 3_600_000, 15);
  });

  it('costs a run first seen at the mean intensity since boot, then each poll’s growth at its own', () => {
    // Boot 10:30, first poll 11:30: half the time at 100 g/kWh, half at 300.
    const first = liveUsage(
      [reading('2025-09-21T10:30:00Z', 3000, 36_000)],
      none,
      inputsAt('2025-09-21T11:30:00Z'),
    );
    expect(first.workspaces[0]).toMatchObject({ startedAt: at('2025-09-21T10:30:00Z') });
    expect(first.workspaces[0].busyKwh).toBeCloseTo(0.01, 15);
    expect(first.workspaces[0].idleKwh).toBeCloseTo(0.01, 15);
    expect(first.workspaces[0].busyGco2eq).toBeCloseTo(0.01 * 200, 12);
    expect(first.workspaces[0].idleGco2eq).toBeCloseTo(0.01 * 200, 12);

    // One minute later, inside 11:00 (300 g/kWh): 60 busy and 60 idle seconds more.
    const second = liveUsage(
      [reading('2025-09-21T10:30:00Z', 3060, 36_060)],
      first.tallies,
      inputsAt('2025-09-21T11:31:00Z'),
    );
    const grown = second.workspaces[0];
    expect(grown.busyKwh).toBeCloseTo(3060 / 300_000, 15);
    expect(grown.idleKwh).toBeCloseTo(36_060 / 3_600_000, 15);
    expect(grown.busyGco2eq).toBeCloseTo(2 + (60 / 300_000) * 300, 12);
    expect(grown.idleGco2eq).toBeCloseTo(2 + (60 / 3_600_000) * 300, 12);
    expect(second.tallies.get('ws-01')).toEqual({
      startedAt: at('2025-09-21T10:30:00Z'),
      observedAt: at('2025-09-21T11:31:00Z'),
      figures: {
        ...zeroFigures(),
        busyCpuSeconds: 3060,
        idleCpuSeconds: 36_060,
        busyKwh: grown.busyKwh,
        idleKwh: grown.idleKwh,
        busyGco2eq: grown.busyGco2eq,
        idleGco2eq: grown.idleGco2eq,
      },
    });
  });

  it('keeps a run whose boot time was nudged by a clock step, and restarts one that rebooted', () => {
    const first = liveUsage(
      [reading('2025-09-21T10:30:00Z', 3000, 36_000)],
      none,
      inputsAt('2025-09-21T11:30:00Z'),
    );

    const nudged = liveUsage(
      [reading('2025-09-21T10:30:01Z', 3060, 36_060)],
      first.tallies,
      inputsAt('2025-09-21T11:31:00Z'),
    );
    expect(nudged.workspaces[0].busyGco2eq).toBeCloseTo(2 + (60 / 300_000) * 300, 12);

    // A reboot at 11:00: new start, counters from 0, all of it at 11:00's intensity.
    const rebooted = liveUsage(
      [reading('2025-09-21T11:00:00Z', 600, 1200)],
      nudged.tallies,
      inputsAt('2025-09-21T11:32:00Z'),
    );
    expect(rebooted.workspaces[0]).toMatchObject({ startedAt: at('2025-09-21T11:00:00Z') });
    expect(rebooted.workspaces[0].busyKwh).toBeCloseTo(600 / 300_000, 15);
    expect(rebooted.workspaces[0].busyGco2eq).toBeCloseTo((600 / 300_000) * 300, 12);

    // Counters that went back with the same boot time cannot be growth: start over from boot.
    const shrunk = liveUsage(
      [reading('2025-09-21T11:00:00Z', 500, 1300)],
      rebooted.tallies,
      inputsAt('2025-09-21T11:33:00Z'),
    );
    expect(shrunk.workspaces[0].busyKwh).toBeCloseTo(500 / 300_000, 15);
    expect(shrunk.workspaces[0].busyGco2eq).toBeCloseTo((500 / 300_000) * 300, 12);
  });

  it('costs the unobserved past of a long run at the mean of its last 14 days', () => {
    const now = at('2025-09-21T11:30:00Z');
    const lastTwoWeeks = new Map<number, HourIntensity>();
    for (let hour = at('2025-09-07T11:00:00Z'); hour <= now; hour += 3_600_000) {
      lastTwoWeeks.set(hour, { gPerKwh: 150, estimated: false, source: 'test' });
    }
    const { workspaces } = liveUsage([reading('2025-08-01T00:00:00Z', 3000, 0)], none, {
      ...inputsAt('2025-09-21T11:30:00Z'),
      intensities: lastTwoWeeks,
    });
    expect(workspaces[0].busyGco2eq).toBeCloseTo(0.01 * 150, 12);
  });

  it('forgets runs that are no longer read', () => {
    const first = liveUsage([reading('2025-09-21T10:30:00Z', 1, 1)], none, inputsAt('2025-09-21T11:30:00Z'));
    expect(liveUsage([], first.tallies, inputsAt('2025-09-21T11:31:00Z')).tallies.size).toBe(0);
  });
});
