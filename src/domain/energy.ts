import { identifiers } from './figures';
import { ownValue } from './own';
import { ENERGY_METRICS, MEASURED_NAMES, type EnergyCoefficients, type MachineCoefficients } from './metrics';
import { carrySampled, type AttributedInstanceHour, type CostedInstanceHour } from './usage';

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
  return carrySampled(
    hour,
    costedHour(hour, machine, energy, gPerKwh, embodiedGco2eq(machine, hour.upHours)),
  );
}

/**
 * A costed hour as one object literal: the hour's keys, its measured figures, each energy metric's
 * kWh and gCO2eq, embodied carbon. Compiled once from the catalogue (as figures.ts does): ingestion
 * makes one per instance-hour, and filling an object figure by figure and spreading it cost five
 * times the bytes of the hour itself.
 */
const costedHour = new Function(
  'hour',
  'machine',
  'energy',
  'gPerKwh',
  'embodied',
  `const metrics = this;
  ${ENERGY_METRICS.map((_, i) => `const kwh${i} = metrics[${i}].kwh(hour, machine, energy);`).join('\n  ')}
  return {
    hour: hour.hour, instance: hour.instance, host: hour.host, project: hour.project,
    machineName: hour.machineName, user: hour.user, experiment: hour.experiment,
    ${identifiers(MEASURED_NAMES)
      .map((name) => `${name}: hour.${name}`)
      .join(', ')},
    ${ENERGY_METRICS.map((metric, i) => `${identifiers([metric.name, metric.carbon]).join(`: kwh${i}, `)}: kwh${i} * gPerKwh`).join(', ')},
    embodiedGco2eq: embodied,
  };`,
).bind(ENERGY_METRICS) as (
  hour: AttributedInstanceHour,
  machine: MachineCoefficients,
  energy: EnergyCoefficients,
  gPerKwh: number,
  embodied: number,
) => CostedInstanceHour;
