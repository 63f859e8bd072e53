import {
  type HostSpan,
  type InstanceLife,
  type InstanceObservation,
  lifeIdentity,
  mergeLife,
} from '../domain/instances';
import { HOUR_MS } from '../domain/time';
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

/**
 * `observations` without the hours in `kept`, whose stored figures stay as they were (an ok answer
 * with fewer series does not replace them): a life is indexed only where its figures are stored,
 * so a project re-mapped since is not given hours whose figures are the old project's.
 */
export function withoutHours(
  observations: readonly InstanceObservation[],
  kept: ReadonlySet<number>,
): InstanceObservation[] {
  if (kept.size === 0) return [...observations];
  return observations.flatMap((seen) => {
    const spans = seen.spans.flatMap((span) => {
      const parts: HostSpan[] = [];
      for (let hour = span.from; hour < span.to; hour += HOUR_MS) {
        const last = parts[parts.length - 1];
        if (kept.has(hour)) continue;
        if (last !== undefined && last.to === hour) last.to = hour + HOUR_MS;
        else parts.push({ host: span.host, from: hour, to: hour + HOUR_MS });
      }
      return parts;
    });
    return spans.length === 0 ? [] : [{ ...seen, spans }];
  });
}

/**
 * Merges `observations` into `lives` (by identity) in place. An hour observed of an instance
 * under one identity (instance, project, machine, user) is taken from its other lives: the hour's
 * stored figures are now that answer's, so a life re-mapped to another project keeps only its own
 * hours. A life left with no hour is deleted; returns the identities deleted.
 */
export function mergeObservations(
  lives: Map<string, InstanceLife>,
  observations: readonly InstanceObservation[],
): string[] {
  const removed: string[] = [];
  for (const seen of observations) {
    const identity = lifeIdentity(seen);
    const hours = new Set<number>();
    for (const span of seen.spans) for (let h = span.from; h < span.to; h += HOUR_MS) hours.add(h);
    for (const [other, life] of lives) {
      if (other === identity || life.instance !== seen.instance) continue;
      const [left] = withoutHours([life], hours);
      if (left === undefined) {
        lives.delete(other);
        removed.push(other);
      } else lives.set(other, left);
    }
    lives.set(identity, mergeLife(lives.get(identity), seen));
  }
  return removed.filter((identity) => !lives.has(identity));
}

/** The start of a batch's newest ok hour, which the index's `throughHour` moves forward to. */
export function newestOkHour(batch: IngestBatch): number | null {
  const ok = batch.outcomes.filter((outcome) => outcome.status === 'ok').map((outcome) => outcome.hour);
  return ok.length === 0 ? null : Math.max(...ok);
}
