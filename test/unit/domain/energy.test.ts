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
  upHours: 1,
  memoryByteHours: 0,
  diskByteHours: 0,
  networkReceiveBytes: 0,
  networkTransmitBytes: 0,
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

describe('costInstanceHour: resources (contract section 8)', () => {
  const resources: AttributedInstanceHour = {
    ...base,
    upHours: 0.5,
    memoryByteHours: 8e9,
    diskByteHours: 2e12,
    networkReceiveBytes: 3e9,
    networkTransmitBytes: 1e9,
  };

  it('costs memory, storage and network with the default coefficients, times PUE, at the hour intensity', () => {
    const { energy } = parseConfig({ energy: { pue: 1.25 } });
    const costed = costInstanceHour(resources, energy, 300);
    expect(costed.memoryKwh).toBeCloseTo(8 * 0.000392 * 1.25, 15);
    expect(costed.storageKwh).toBeCloseTo(2 * 0.0012 * 1.25, 15);
    expect(costed.networkKwh).toBeCloseTo(4 * 0.001 * 1.25, 15);
    expect(costed.memoryGco2eq).toBeCloseTo(costed.memoryKwh * 300, 12);
    expect(costed.storageGco2eq).toBeCloseTo(costed.storageKwh * 300, 12);
    expect(costed.networkGco2eq).toBeCloseTo(costed.networkKwh * 300, 12);
    expect(costed).toMatchObject({ upHours: 0.5, memoryByteHours: 8e9, networkTransmitBytes: 1e9 });
    expect(costed.embodiedGco2eq).toBe(0);
  });

  it('takes configured coefficients, and embodied carbon per machine type, apart from operational', () => {
    const { energy } = parseConfig({
      energy: {
        memoryKwhPerGbHour: 0.001,
        storageKwhPerTbHour: 0.01,
        networkKwhPerGb: 0.1,
        machines: { 'Artemis (Matlab)': { embodied: { kgCo2eq: 876, share: 0.25 } } },
      },
    });
    const costed = costInstanceHour(resources, energy, 100);
    expect(costed.memoryKwh).toBeCloseTo(0.008, 15);
    expect(costed.storageKwh).toBeCloseTo(0.02, 15);
    expect(costed.networkKwh).toBeCloseTo(0.4, 15);
    // 876 kg × 1000 × 0.25 × 0.5 h / (4 years × 8760 h)
    expect(costed.embodiedGco2eq).toBeCloseTo((876_000 * 0.25 * 0.5) / 35_040, 12);
    expect(costInstanceHour({ ...resources, machineName: 'other' }, energy, 100).embodiedGco2eq).toBe(0);
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
