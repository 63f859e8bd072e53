/** Config sections of what is measured and how it is costed: energy.* and prometheus.* (contract sections 2, 8). */
import { z } from 'zod';
import {
  MAX_PUE,
  httpUrl,
  labelName,
  nonNegativeNumber,
  positiveNumber,
  promqlRegex,
  wattsPerCore,
  wholeNumberIn,
  timeoutMs,
} from './primitives';

export const MachinePowerSchema = z
  .object({
    busyWattsPerCore: wattsPerCore('positive').default(12),
    idleWattsPerCore: wattsPerCore('nonnegative').default(1),
  })
  .strict();
export type MachinePower = z.infer<typeof MachinePowerSchema>;

/** A machine type's embodied carbon (contract section 8). */
export const EmbodiedSchema = z
  .object({
    kgCo2eq: nonNegativeNumber,
    lifespanYears: positiveNumber.default(4),
    /** The part of the machine one instance of this type holds. */
    share: z
      .number({ error: 'expected a number in (0, 1]' })
      .positive({ error: 'expected a number in (0, 1]' })
      .max(1, { error: 'expected a number in (0, 1]' })
      .default(1),
  })
  .strict();

/*
 * The resource coefficients' defaults are Cloud Carbon Footprint's
 * (https://www.cloudcarbonfootprint.org/docs/methodology): memory 0.000392 kWh per GB-hour,
 * storage 1.2 Wh per TB-hour (HDD), networking 0.001 kWh per GB.
 */
export const EnergySchema = z
  .object({
    default: MachinePowerSchema.prefault({}),
    /** Keyed by `machine_name` as labelled; a field left out comes from `default`. */
    machines: z
      .record(
        z.string(),
        z
          .object({
            busyWattsPerCore: wattsPerCore('positive').optional(),
            idleWattsPerCore: wattsPerCore('nonnegative').optional(),
            embodied: EmbodiedSchema.optional(),
          })
          .strict(),
      )
      .default({}),
    pue: z
      .number({ error: 'expected a number from 1 to 10' })
      .min(1, { error: 'expected a number from 1 to 10' })
      .max(MAX_PUE, { error: 'expected a number from 1 to 10' })
      .default(1),
    memoryKwhPerGbHour: nonNegativeNumber.default(0.000392),
    storageKwhPerTbHour: nonNegativeNumber.default(0.0012),
    networkKwhPerGb: nonNegativeNumber.default(0.001),
  })
  .strict();
export type EnergyConfig = z.infer<typeof EnergySchema>;

export const PrometheusSchema = z
  .object({
    url: httpUrl.default('http://127.0.0.1:9090'),
    labels: z
      .object({
        project: labelName.default('cloud_project_name'),
        machine: labelName.default('machine_name'),
        host: labelName.default('host'),
        user: labelName.optional(),
        experiment: labelName.optional(),
      })
      .strict()
      .prefault({}),
    idleModes: z
      .array(z.string().min(1), { error: 'expected a list of mode names' })
      .min(1)
      .default(['idle']),
    timeoutMs: timeoutMs.default(60_000),
    /** Extra PromQL matchers for every node_exporter series asked for, e.g. `job="node"`. */
    selector: z.string().default(''),
    /** Filesystems whose `fstype` matches (RE2, whole value) are not counted as disk in use. */
    excludeFstypes: promqlRegex.default('tmpfs|devtmpfs|overlay|squashfs|ramfs|nsfs|proc|sysfs'),
    /** Network devices whose name matches (RE2, whole value) are not counted as traffic. */
    excludeDevices: promqlRegex.default('lo'),
    /** Hours asked for in one query_range request (Prometheus caps a range at 11,000 points). */
    chunkHours: wholeNumberIn(1, 10_000).default(24 * 7),
    /** Tries per request before its hours are stored as failed. */
    attempts: wholeNumberIn(1, 10).default(3),
    /** False when every instance comes from another source (e.g. `sources.opennebula`). */
    enabled: z.boolean({ error: 'expected true or false' }).default(true),
  })
  .strict();
export type PrometheusConfig = z.infer<typeof PrometheusSchema>;
