import type { EnergyConfig, MachinePower } from '../config';
import type { AttributedInstanceHour, CostedInstanceHour } from './usage';

/** 1 kWh = 3,600,000 W·s: CPU-seconds × watts per core gives W·s. */
const WATT_SECONDS_PER_KWH = 3_600_000;

export function powerFor(energy: EnergyConfig, machineName: string): MachinePower {
  const override = energy.machines[machineName];
  return {
    busyWattsPerCore: override?.busyWattsPerCore ?? energy.default.busyWattsPerCore,
    idleWattsPerCore: override?.idleWattsPerCore ?? energy.default.idleWattsPerCore,
  };
}

/**
 * Energy and carbon of one instance-hour (contract section 2):
 * kWh = CPU-seconds × watts per core × PUE / 3.6e6, gCO2eq = kWh × g/kWh of that hour.
 */
export function costInstanceHour(
  hour: AttributedInstanceHour,
  energy: EnergyConfig,
  gPerKwh: number,
): CostedInstanceHour {
  const power = powerFor(energy, hour.machineName);
  const busyKwh = (hour.busyCpuSeconds * power.busyWattsPerCore * energy.pue) / WATT_SECONDS_PER_KWH;
  const idleKwh = (hour.idleCpuSeconds * power.idleWattsPerCore * energy.pue) / WATT_SECONDS_PER_KWH;
  return { ...hour, busyKwh, idleKwh, busyGco2eq: busyKwh * gPerKwh, idleGco2eq: idleKwh * gPerKwh };
}
