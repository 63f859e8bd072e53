import { expectedSum, near } from './expect';
import { at, DAY_TOLERANCE, G_PER_KWH, instanceHours, query } from './lab';

/** machineMetrics against the generator's instance-hours and kWh. */
export function describeMachineMetrics(): void {
  describe('machineMetrics, with today 2025-09-23 (left out: whole UTC days before it)', () => {
    interface ApiMetrics {
      id: string;
      machineName: string;
      energyKwh: { busy: { average: number }; idle: { average: number } };
      carbonGco2eq: { busy: { average: number }; idle: { average: number } };
      instanceHours: number;
    }
    const METRICS = `id machineName instanceHours
      energyKwh { busy { average } idle { average } } carbonGco2eq { busy { average } idle { average } }`;

    /** The generator's instance-hours and MACHINE-level kWh per machine type over [from, to). */
    function expectedMetrics(from: number, to: number) {
      const machines = [...new Set(instanceHours.map((row) => row.machineName))].sort();
      return machines
        .map((machineName) => {
          const hours = instanceHours.filter(
            (row) => row.machineName === machineName && row.hour >= from && row.hour < to,
          ).length;
          const sum = expectedSum('MACHINE', machineName, from, to).all;
          return { machineName, hours, sum };
        })
        .filter(({ hours }) => hours > 0);
    }

    it.each([
      [1, at('2025-09-22T00:00:00Z')],
      [2, at('2025-09-21T00:00:00Z')],
      // The default, 365 days: every ok hour before today, so the 20th's last two hours too.
      [null, at('2024-09-23T00:00:00Z')],
    ])(
      'days: %p counts the generator’s instance-hours and averages its kWh over them',
      async (days, from) => {
        const to = at('2025-09-23T00:00:00Z');
        const data = await query<{ machineMetrics: ApiMetrics[] }>(
          days === null
            ? `{ machineMetrics { ${METRICS} } }`
            : `query($days: Int) { machineMetrics(days: $days) { ${METRICS} } }`,
          { days },
        );
        const want = expectedMetrics(from, to);
        expect(want.length).toBe(4);
        expect(data.machineMetrics.map((m) => [m.machineName, m.instanceHours])).toEqual(
          want.map((m) => [m.machineName, m.hours]),
        );
        for (const [i, { machineName, hours, sum }] of want.entries()) {
          const got = data.machineMetrics[i];
          const averages = {
            energyBusy: [got.energyKwh.busy.average, sum.busyKwh / hours],
            energyIdle: [got.energyKwh.idle.average, sum.idleKwh / hours],
            carbonBusy: [got.carbonGco2eq.busy.average, sum.busyGco2eq / hours],
            carbonIdle: [got.carbonGco2eq.idle.average, sum.idleGco2eq / hours],
          };
          for (const [what, [actual, wanted]] of Object.entries(averages)) {
            if (!near(actual, wanted, DAY_TOLERANCE)) {
              throw new Error(
                `${machineName} ${what} (days ${days}): got ${actual}, expected ${wanted} ± 1 %`,
              );
            }
          }
          expect(got.carbonGco2eq.busy.average).toBeCloseTo(got.energyKwh.busy.average * G_PER_KWH, 9);
        }
      },
    );

    it('filters by machine type, as labelled or by machine key, with the same figures', async () => {
      const all = await query<{ machineMetrics: ApiMetrics[] }>(`{ machineMetrics(days: 2) { ${METRICS} } }`);
      const matlab = all.machineMetrics.find((m) => m.machineName === 'Artemis (Matlab)');
      expect(matlab).toBeDefined();
      for (const name of ['Artemis (Matlab)', 'ARTEMIS_MATLAB']) {
        const one = await query<{ machineMetrics: ApiMetrics[] }>(
          `query($name: String) { machineMetrics(machineName: $name, days: 2) { ${METRICS} } }`,
          { name },
        );
        expect(one.machineMetrics).toEqual([matlab]);
      }
    });
  });
}
