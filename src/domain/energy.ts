import type { Figures } from './figures';
import { ownValue } from './own';
import { ENERGY_METRICS, MEASURED_NAMES, type EnergyCoefficients, type MachineCoefficients } from './metrics';
import { sampled, type AttributedInstanceHour, type CostedInstanceHour } from './usage';

/** Hours in a year of 365 days, the lifespan's unit (contract section 8). */
const HOURS_PER_YEAR = 8760;
const GRAMS_PER_KG = 1000;

/** The coefficients of a machine type: its own where it has them, the default's otherwise. */
export function machineCoefficients(energy: EnergyCoefficients, machineName: string): MachineCoefficients {
  const override = ownValue(energy.machines, machineName);
  return {
    busyWattsPerCore: override?.busyWattsPerCore ?? energy.default.busyWattsPerCore,
    idleWattsPerCore: override?.idleWattsPerCore ?? energy.default.idleWattsPerCore,
    embodied: override?.embodied,
  };
}

/**
 * Embodied carbon of `upHours` of a machine type (contract section 8): its kgCO2eq spread evenly
 * over its lifespan, times the share of the machine an instance holds. No `embodied`: 0.
 */
export function embodiedGco2eq(machine: MachineCoefficients, upHours: number): number {
  const embodied = machine.embodied;
  if (embodied === undefined) return 0;
  return (
    (embodied.kgCo2eq * GRAMS_PER_KG * embodied.share * upHours) / (embodied.lifespanYears * HOURS_PER_YEAR)
  );
}

/**
 * Energy and carbon of one instance-hour, every energy figure of the catalogue: its kWh (times
 * PUE), and its gCO2eq = kWh × g/kWh of that hour (contract sections 2 and 8); embodied carbon
 * beside them.
 */
export function costInstanceHour(
  hour: AttributedInstanceHour,
  energy: EnergyCoefficients,
  gPerKwh: number,
): CostedInstanceHour {
  const machine = machineCoefficients(energy, hour.machineName);
  const figures = {} as Figures;
  for (const name of MEASURED_NAMES) figures[name] = hour[name];
  for (const metric of ENERGY_METRICS) {
    const kwh = metric.kwh(hour, machine, energy);
    figures[metric.name] = kwh;
    figures[metric.carbon] = kwh * gPerKwh;
  }
  figures.embodiedGco2eq = embodiedGco2eq(machine, hour.upHours);
  return {
    hour: hour.hour,
    instance: hour.instance,
    host: hour.host,
    project: hour.project,
    machineName: hour.machineName,
    user: hour.user,
    experiment: hour.experiment,
    ...sampled(hour),
    ...figures,
  };
}
