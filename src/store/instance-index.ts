import type { InstanceLife, InstanceObservation } from '../domain/instances';
import type { IngestBatch } from '../domain/usage';

/** The lives an index holds for a range, and how far ingestion has gone (for `ended`). */
export interface InstanceIndexView {
  /** Sorted by instance, then first hour seen. */
  lives: InstanceLife[];
  /** Start of the newest hour any ingestion recorded as ok; null before the first. */
  throughHour: number | null;
}

/**
 * The instance index (contract section 11): every instance's life, kept current by each ingested
 * batch, so `instances` reads one record per instance instead of every day file. A backend keeps
 * it beside its usage; the shared suite is test/support/describe-instance-index.ts.
 */
export interface InstanceIndex {
  /**
   * Merges what a batch saw (`mergeLife`: the union of hours, the latest hour's experiment and
   * registry deletion) and moves `throughHour` forward to `newestOkHour`. Recording the same
   * observations again changes nothing.
   */
  record(observations: readonly InstanceObservation[], newestOkHour: number | null): Promise<void>;

  /** The lives with samples in any hour overlapping [from, to). */
  list(from: number, to: number): Promise<InstanceIndexView>;
}

/** The start of a batch's newest ok hour, which the index's `throughHour` moves forward to. */
export function newestOkHour(batch: IngestBatch): number | null {
  const ok = batch.outcomes.filter((outcome) => outcome.status === 'ok').map((outcome) => outcome.hour);
  return ok.length === 0 ? null : Math.max(...ok);
}
