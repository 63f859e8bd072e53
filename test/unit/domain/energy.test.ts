import { parseConfig } from '../../../src/config';
import { costInstanceHour } from '../../../src/domain/energy';
import { machineKey } from '../../../src/domain/machine-key';
import type { AttributedInstanceHour } from '../../../src/domain/usage';

const base: AttributedInstanceHour = {
  hour: 0,
  instance: 'vm1:9100',
  host: 'vm1',
  project: 'P',
  machineName: 'Artemis (Matlab)',
  user: 'u',
  experiment: 'e',
  busyCpuSeconds: 3600,
  idleCpuSeconds: 7200,
};

describe('costInstanceHour', () => {
  it('uses the default watts per core and PUE 1: 3600 busy s × 12 W = 0.012 kWh', () => {
    const { energy } = parseConfig({});
    const costed = costInstanceHour(base, energy, 200);
    expect(costed.busyKwh).toBeCloseTo(0.012, 12);
    expect(costed.idleKwh).toBeCloseTo(0.002, 12);
    expect(costed.busyGco2eq).toBeCloseTo(2.4, 12);
    expect(costed.idleGco2eq).toBeCloseTo(0.4, 12);
  });

  it('applies a machine override, inheriting the missing field from default, and the PUE', () => {
    const { energy } = parseConfig({
      energy: {
        default: { idleWattsPerCore: 2 },
        machines: { 'Artemis (Matlab)': { busyWattsPerCore: 30 } },
        pue: 1.5,
      },
    });
    const costed = costInstanceHour(base, energy, 100);
    expect(costed.busyKwh).toBeCloseTo((3600 * 30 * 1.5) / 3_600_000, 12);
    expect(costed.idleKwh).toBeCloseTo((7200 * 2 * 1.5) / 3_600_000, 12);
    expect(costed.busyGco2eq).toBeCloseTo(costed.busyKwh * 100, 12);
  });
});

describe('machineKey', () => {
  it.each([
    ['Artemis (Matlab)', 'ARTEMIS_MATLAB'],
    ['  gpu.large--v2 ', 'GPU_LARGE_V2'],
    ['already_OK', 'ALREADY_OK'],
    ['()', 'UNNAMED'],
  ])('%s → %s', (name, key) => expect(machineKey(name)).toBe(key));
});
