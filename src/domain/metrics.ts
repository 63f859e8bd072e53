/**
 * The catalogue of metrics: one entry per figure a bucket carries. The figures' arithmetic, the
 * energy model, the stored names, the API's resource fields and the export's columns all walk this
 * list, so a new metric (GPU energy, say) is an entry here plus the source's query for it.
 *
 * Every figure is summed over instances and hours. An `averaged` one (memory, disk) is a
 * byte-hours integral whose average is that integral over `upHours`, the measurements behind it
 * (ToMaTo's rule): roll-ups of integrals stay exact where roll-ups of averages would not.
 */

/** Per machine type: what one CPU core draws, and the machine's embodied carbon. */
export interface MachineCoefficients {
  busyWattsPerCore: number;
  idleWattsPerCore: number;
  /** kgCO2eq to make the machine, spread over its lifespan and this share of it (contract section 8). */
  embodied?: { kgCo2eq: number; lifespanYears: number; share: number };
}

/** What the energy model needs; the config's `energy` section has this shape. */
export interface EnergyCoefficients {
  default: MachineCoefficients;
  /** Keyed by machine type as labelled; a field left out comes from `default`. */
  machines: Record<string, Partial<MachineCoefficients>>;
  pue: number;
  memoryKwhPerGbHour: number;
  storageKwhPerTbHour: number;
  networkKwhPerGb: number;
}

/** The figures a source measures, before any energy or carbon. */
export type MeasuredFigures = Record<MeasuredName, number>;

type MetricGroup =
  /** The seed's six: always stored, under the seed's names. */
  | 'cpu'
  /** Beside them: stored only in figures that hold any (an old or CPU-only store reads them as 0). */
  | 'resources';

interface MetricBase {
  /** The domain's and the API's name. */
  name: string;
  /** The day entry's name (contract sections 3 and 8). */
  stored: string;
  unit: string;
  group: MetricGroup;
  description: string;
}

/** Measured by a source (its query names the metric); a source that does not know it gives 0. */
interface MeasuredMetric extends MetricBase {
  kind: 'measured';
  aggregation: 'summed' | 'averaged';
  /** For an averaged metric: the API's name of its average over `upHours`. */
  average?: string;
}

/** Energy worked out from measured figures, in kWh, PUE included. */
interface EnergyMetric extends MetricBase {
  kind: 'energy';
  kwh(measured: MeasuredFigures, machine: MachineCoefficients, energy: EnergyCoefficients): number;
  /** The name of the carbon figure, kWh × the hour's intensity. */
  carbon: string;
}

/** Operational carbon of an energy figure, or embodied carbon, which is never added into it. */
interface CarbonMetric extends MetricBase {
  kind: 'carbon' | 'embodied';
}

/** 1 kWh = 3,600,000 W·s: CPU-seconds × watts per core gives W·s. */
const WATT_SECONDS_PER_KWH = 3_600_000;
/** Contract section 8: GB = 10^9 bytes, TB = 10^12 bytes. */
const BYTES_PER_GB = 1e9;
const BYTES_PER_TB = 1e12;

/*
 * The resource coefficients are Cloud Carbon Footprint's (methodology, "Memory", "Storage" and
 * "Networking": https://www.cloudcarbonfootprint.org/docs/methodology): 0.000392 kWh per GB-hour
 * of memory, 1.2 Wh per TB-hour of (HDD) storage, 0.001 kWh per GB transferred. Their defaults
 * live in the config schema; the formulas here.
 */
/** What sources measure: the inputs of the energy model. */
const MEASURED = [
  {
    kind: 'measured',
    name: 'busyCpuSeconds',
    stored: 'busy_cpu_seconds_total',
    unit: 's',
    group: 'cpu',
    aggregation: 'summed',
    description: 'CPU-seconds in every mode but the idle ones, summed over CPUs.',
  },
  {
    kind: 'measured',
    name: 'idleCpuSeconds',
    stored: 'idle_cpu_seconds_total',
    unit: 's',
    group: 'cpu',
    aggregation: 'summed',
    description: 'CPU-seconds in the idle modes, summed over CPUs.',
  },
  {
    kind: 'measured',
    name: 'upHours',
    stored: 'up_hours',
    unit: 'h',
    group: 'resources',
    aggregation: 'summed',
    description: 'Hours the instances were up: the measurements behind every average.',
  },
  {
    kind: 'measured',
    name: 'memoryByteHours',
    stored: 'memory_byte_hours',
    unit: 'B·h',
    group: 'resources',
    aggregation: 'averaged',
    average: 'memoryBytesAvg',
    description: 'Memory in use (MemTotal − MemAvailable) integrated over the time up.',
  },
  {
    kind: 'measured',
    name: 'diskByteHours',
    stored: 'disk_byte_hours',
    unit: 'B·h',
    group: 'resources',
    aggregation: 'averaged',
    average: 'diskBytesAvg',
    description: 'Filesystem space in use (size − avail) integrated over the time up.',
  },
  {
    kind: 'measured',
    name: 'networkReceiveBytes',
    stored: 'network_receive_bytes',
    unit: 'B',
    group: 'resources',
    aggregation: 'summed',
    description: 'Bytes received over the network devices counted.',
  },
  {
    kind: 'measured',
    name: 'networkTransmitBytes',
    stored: 'network_transmit_bytes',
    unit: 'B',
    group: 'resources',
    aggregation: 'summed',
    description: 'Bytes transmitted over the network devices counted.',
  },
] as const satisfies readonly MeasuredMetric[];

export type MeasuredName = (typeof MEASURED)[number]['name'];

/** What the energy model works out of the measured figures, per instance-hour. */
const DERIVED = [
  {
    kind: 'energy',
    name: 'busyKwh',
    stored: 'busy_kwh',
    unit: 'kWh',
    group: 'cpu',
    carbon: 'busyGco2eq',
    description: 'busyCpuSeconds × busyWattsPerCore × PUE / 3.6e6.',
    kwh: (m, machine, energy) =>
      (m.busyCpuSeconds * machine.busyWattsPerCore * energy.pue) / WATT_SECONDS_PER_KWH,
  },
  {
    kind: 'energy',
    name: 'idleKwh',
    stored: 'idle_kwh',
    unit: 'kWh',
    group: 'cpu',
    carbon: 'idleGco2eq',
    description: 'idleCpuSeconds × idleWattsPerCore × PUE / 3.6e6.',
    kwh: (m, machine, energy) =>
      (m.idleCpuSeconds * machine.idleWattsPerCore * energy.pue) / WATT_SECONDS_PER_KWH,
  },
  {
    kind: 'carbon',
    name: 'busyGco2eq',
    stored: 'busy_gCo2eq',
    unit: 'gCO2eq',
    group: 'cpu',
    description: "busyKwh × the hour's carbon intensity.",
  },
  {
    kind: 'carbon',
    name: 'idleGco2eq',
    stored: 'idle_gCo2eq',
    unit: 'gCO2eq',
    group: 'cpu',
    description: "idleKwh × the hour's carbon intensity.",
  },
  {
    kind: 'energy',
    name: 'memoryKwh',
    stored: 'memory_kwh',
    unit: 'kWh',
    group: 'resources',
    carbon: 'memoryGco2eq',
    description: 'memoryByteHours / 1e9 × memoryKwhPerGbHour × PUE.',
    kwh: (m, _machine, energy) => (m.memoryByteHours / BYTES_PER_GB) * energy.memoryKwhPerGbHour * energy.pue,
  },
  {
    kind: 'energy',
    name: 'storageKwh',
    stored: 'storage_kwh',
    unit: 'kWh',
    group: 'resources',
    carbon: 'storageGco2eq',
    description: 'diskByteHours / 1e12 × storageKwhPerTbHour × PUE.',
    kwh: (m, _machine, energy) => (m.diskByteHours / BYTES_PER_TB) * energy.storageKwhPerTbHour * energy.pue,
  },
  {
    kind: 'energy',
    name: 'networkKwh',
    stored: 'network_kwh',
    unit: 'kWh',
    group: 'resources',
    carbon: 'networkGco2eq',
    description: '(networkReceiveBytes + networkTransmitBytes) / 1e9 × networkKwhPerGb × PUE.',
    kwh: (m, _machine, energy) =>
      ((m.networkReceiveBytes + m.networkTransmitBytes) / BYTES_PER_GB) * energy.networkKwhPerGb * energy.pue,
  },
  {
    kind: 'carbon',
    name: 'memoryGco2eq',
    stored: 'memory_gCo2eq',
    unit: 'gCO2eq',
    group: 'resources',
    description: "memoryKwh × the hour's carbon intensity.",
  },
  {
    kind: 'carbon',
    name: 'storageGco2eq',
    stored: 'storage_gCo2eq',
    unit: 'gCO2eq',
    group: 'resources',
    description: "storageKwh × the hour's carbon intensity.",
  },
  {
    kind: 'carbon',
    name: 'networkGco2eq',
    stored: 'network_gCo2eq',
    unit: 'gCO2eq',
    group: 'resources',
    description: "networkKwh × the hour's carbon intensity.",
  },
  {
    kind: 'embodied',
    name: 'embodiedGco2eq',
    stored: 'embodied_gCo2eq',
    unit: 'gCO2eq',
    group: 'resources',
    description:
      'Embodied carbon of the machine type: kgCo2eq × 1000 × share × upHours / (lifespanYears × 8760); ' +
      'kept apart from operational carbon.',
  },
] as const satisfies ReadonlyArray<EnergyMetric | CarbonMetric>;

const CATALOGUE = [...MEASURED, ...DERIVED] as const;

export type Metric = (typeof CATALOGUE)[number];
export type MetricName = Metric['name'];
export type EnergyName = Extract<Metric, { kind: 'energy' }>['name'];
export type ResourceName = Extract<Metric, { group: 'resources' }>['name'];
export type CpuName = Extract<Metric, { group: 'cpu' }>['name'];

export const METRICS: readonly Metric[] = CATALOGUE;

/** The seed's six, in the seed's order. */
export const CPU_NAMES = CATALOGUE.filter((m) => m.group === 'cpu').map((m) => m.name) as readonly CpuName[];
/** The figures beside them, in catalogue order. */
export const RESOURCE_NAMES = CATALOGUE.filter((m) => m.group === 'resources').map(
  (m) => m.name,
) as readonly ResourceName[];
/** Every figure's name: the order figures are stored and exported in. */
export const METRIC_NAMES: readonly MetricName[] = [...CPU_NAMES, ...RESOURCE_NAMES];
export const MEASURED_NAMES = CATALOGUE.filter((m) => m.kind === 'measured').map(
  (m) => m.name,
) as readonly MeasuredName[];
export const ENERGY_METRICS = CATALOGUE.filter(
  (m): m is Extract<Metric, { kind: 'energy' }> => m.kind === 'energy',
);
export const AVERAGED_METRICS = CATALOGUE.filter(
  (m): m is Extract<Metric, { average: string }> => 'average' in m,
);

export type AverageName = (typeof AVERAGED_METRICS)[number]['average'];

/**
 * The fields of the API's ResourceFigures, in the contract's order: each resource figure (an
 * averaged one followed by its average), the operational sums, and embodied carbon last.
 */
export const RESOURCE_VIEW_FIELDS: readonly string[] = [
  ...CATALOGUE.flatMap((m) =>
    m.group !== 'resources' || m.kind === 'embodied' ? [] : 'average' in m ? [m.name, m.average] : [m.name],
  ),
  'operationalKwh',
  'operationalGco2eq',
  ...CATALOGUE.filter((m) => m.kind === 'embodied').map((m) => m.name),
];
