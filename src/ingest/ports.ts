import type { HourIntensity, RawInstanceHour } from '../domain/usage';

/**
 * The ports an ingestion run takes its inputs through. Adapters (src/plugins) implement them; the
 * run knows nothing of Prometheus, OpenNebula or carbon APIs.
 */

/** What a CPU-seconds source answers for one hour. */
export type SourceHour = { status: 'ok'; rows: RawInstanceHour[] } | { status: 'failed'; error: string };

/**
 * A source of per-instance CPU seconds. It knows nothing of the store: it answers for the hours
 * asked, and an hour it could not fetch is reported failed with a reason, never as zero usage.
 */
export interface CpuSecondsSource {
  /** Hours are whole-hour starts; the answer has an entry for every hour in [fromHour, toHour). */
  fetchHours(fromHour: number, toHour: number, signal?: AbortSignal): Promise<Map<number, SourceHour>>;
}

/** Carbon intensity per hour. A source that cannot answer falls back and marks the hour estimated. */
export interface CarbonIntensitySource {
  /** An intensity for every whole hour in [fromHour, toHour). Never rejects for a fetch failure. */
  intensities(fromHour: number, toHour: number, signal?: AbortSignal): Promise<Map<number, HourIntensity>>;
}
