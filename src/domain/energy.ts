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
  // Inline rather than powerFor() and a spread: this runs for every instance-hour of a backfill.
  const override = energy.machines[hour.machineName];
  const busyWatts = override?.busyWattsPerCore ?? energy.default.busyWattsPerCore;
  const idleWatts = override?.idleWattsPerCore ?? energy.default.idleWattsPerCore;
  const busyKwh = (hour.busyCpuSeconds * busyWatts * energy.pue) / WATT_SECONDS_PER_KWH;
  const idleKwh = (hour.idleCpuSeconds * idleWatts * energy.pue) / WATT_SECONDS_PER_KWH;
  return {
    hour: hour.hour,
    instance: hour.instance,
    host: hour.host,
    project: hour.project,
    machineName: hour.machineName,
    user: hour.user,
    experiment: hour.experiment,
    busyCpuSeconds: hour.busyCpuSeconds,
    idleCpuSeconds: hour.idleCpuSeconds,
    busyKwh,
    idleKwh,
    busyGco2eq: busyKwh * gPerKwh,
    idleGco2eq: idleKwh * gPerKwh,
  };
}
