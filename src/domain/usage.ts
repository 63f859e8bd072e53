import type { Breakdown, Figures } from './figures';
import type { InstanceObservation } from './instances';
import type { Level } from './levels';
import type { MeasuredFigures } from './metrics';

/**
 * What a source reports for one instance in one hour, before attribution: CPU seconds always, and
 * any other measured figure of the catalogue it knows (one it leaves out counts 0).
 */
export type RawInstanceHour = {
  /** Start of the hour, epoch ms. */
  hour: number;
  /** The `instance` label. */
  instance: string;
  /** Every label of the series except `cpu` and `mode`. */
  labels: Record<string, string>;
  /**
   * Keys a source already knows (OpenNebula's maps): used as they are, instead of labels and the
   * workspace registry.
   */
  attribution?: SourceAttribution;
} & Pick<MeasuredFigures, 'busyCpuSeconds' | 'idleCpuSeconds'> &
  Partial<MeasuredFigures> &
  Sampled;

/**
 * How much of an instance-hour a source that holds samples between readings (OpenNebula) had a
 * sample for. Such a source may prune old samples while it still knows the instance ran, so a
 * re-ingest can see the same instance-hours measured from less: the store compares this too.
 * Absent for a source whose every row is a measurement (Prometheus: no samples, no row).
 */
export interface Sampled {
  /** Hours of the instance's time in this hour that a sample held, 0 to `upHours`. */
  sampledHours?: number;
}

/** Carries `from`'s sampled hours over to `to`, where its source counts them; returns `to`. */
export function carrySampled<T extends Sampled>(from: Sampled, to: T): T {
  if (from.sampledHours !== undefined) to.sampledHours = from.sampledHours;
  return to;
}

/** The keys of an instance-hour as a source that knows them says. */
export interface SourceAttribution {
  host: string;
  project: string;
  machineName: string;
  user: string;
  experiment: string;
}

/** An instance-hour with every key it is counted under, and every measured figure. */
export type AttributedInstanceHour = {
  hour: number;
  instance: string;
  host: string;
  project: string;
  /** Machine type as labelled, e.g. `Artemis (Matlab)`. */
  machineName: string;
  user: string;
  experiment: string;
} & MeasuredFigures &
  Sampled;

/** An attributed instance-hour with its energy and carbon. */
export type CostedInstanceHour = AttributedInstanceHour & Figures;

/** Carbon intensity applied to one hour, kept so every figure can be explained. */
export interface HourIntensity {
  gPerKwh: number;
  /** True when the configured source failed and a fallback was used. */
  estimated: boolean;
  source: string;
}

/** The marker stored in place of each figure of an hour that could not be fetched. */
export const FAILED = 'failed' as const;

/**
 * One level/key/day of usage: the store's unit of writing. `hours` is keyed `HH:00`;
 * `totals` sums the hours that did not fail.
 */
export interface DayEntry {
  level: Level;
  key: string;
  /** `YYYY-MM-DD` (UTC). */
  date: string;
  hours: Record<string, Breakdown | typeof FAILED>;
  totals: Breakdown;
}

/** Month roll-up: each day's totals and their sum. Always equal to the sum of its day entries. */
export interface MonthRollup {
  level: Level;
  key: string;
  /** `YYYY-MM`. */
  month: string;
  /** Keyed `YYYY-MM-DD`; only days that have an entry. */
  days: Record<string, Breakdown>;
  totals: Breakdown;
}

/** Year roll-up: each month's totals and their sum. */
export interface YearRollup {
  level: Level;
  key: string;
  /** `YYYY`. */
  year: string;
  /** Keyed `YYYY-MM`; only months that have a roll-up. */
  months: Record<string, Breakdown>;
  totals: Breakdown;
}

/** The ledger's record of one ingested hour. */
export type LedgerHour =
  | {
      status: 'ok';
      intensity: HourIntensity;
      /** Instance-hours with data behind the hour's figures, by machine type as labelled. */
      instanceHours: Record<string, number>;
      /** Of those, the hours samples held, by machine type, where the source said (see `Sampled`). */
      sampledHours?: Record<string, number>;
      /** Attempts that failed after this hour was ok (the figures were kept). */
      failedAttempts?: number;
      lastError?: string;
    }
  | {
      status: 'failed';
      attempts: number;
      error: string;
      lastAttemptAt: string;
      /**
       * Some keys still hold figures for this hour: set when a damaged day entry was quarantined
       * and the hour must be ingested again. A failed attempt leaves those figures be.
       */
      keepsFigures?: true;
    };

/** The result of ingesting one hour, handed to the store. */
export type HourOutcome =
  | {
      hour: number;
      status: 'ok';
      intensity: HourIntensity;
      instanceHours: Record<string, number>;
      sampledHours?: Record<string, number>;
    }
  | { hour: number; status: 'failed'; error: string };

/** Everything one ingestion step writes: the outcomes of its hours and the day entries of the ok ones. */
export interface IngestBatch {
  /** Each hour being ingested, once. Hours not listed are left alone. */
  outcomes: HourOutcome[];
  /** Day entries (every level) built from the ok hours only; a key absent here had no usage in them. */
  entries: DayEntry[];
  /** When the attempt was made, epoch ms (recorded for failed hours). */
  attemptedAt: number;
  /**
   * The projects each instance ran under in the batch's ok hours, sorted: what scoping INSTANCE
   * series by project needs, since an instance's day entries are split by machine type only.
   */
  instanceProjects?: Readonly<Record<string, readonly string[]>>;
  /** What the ok hours show of each instance's life, for the store's instance index. */
  instances?: readonly InstanceObservation[];
}

/** One hour of one user's usage in one project (no level holds that pairing). */
export interface ProjectUserHour {
  /** Epoch ms. */
  hour: number;
  project: string;
  user: string;
  figures: Breakdown;
}
