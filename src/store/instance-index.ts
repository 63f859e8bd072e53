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
   * registry deletion) and moves `throughHour` forward to `newestOkHour`. `replacedHours` are the
   * ok hours whose stored figures the batch has just replaced: they are the whole truth of those
   * hours, so a life not observed in one of them loses it (see `dropUnobservedHours`). Recording
   * the same observations again changes nothing.
   */
  record(
    observations: readonly InstanceObservation[],
    newestOkHour: number | null,
    replacedHours?: readonly number[],
  ): Promise<void>;

  /** The lives with samples in any hour overlapping [from, to). */
  list(from: number, to: number): Promise<InstanceIndexView>;
}

/**
 * `observations` without the hours in `kept`, whose stored figures stay as they were (an ok answer
 * with fewer series or samples does not replace them): a life is indexed only where its figures are stored,
 * so a project re-mapped since is not given hours whose figures are the old project's.
 */
export function withoutHours(
  observations: readonly InstanceObservation[],
  kept: ReadonlySet<number>,
): InstanceObservation[] {
  if (kept.size === 0) return [...observations];
  const from = Math.min(...kept);
  const to = Math.max(...kept) + HOUR_MS;
  return observations.flatMap((seen) => {
    const spans = seen.spans.flatMap((span) =>
      span.to <= from || span.from >= to ? [span] : spanWithout(span, kept, from, to),
    );
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

/**
 * Takes from each life the `replaced` hours that `observations` do not hold under its identity, in
 * place: an ok hour's stored figures are the batch's alone (an instance that no longer appears in
 * it, after `ingest --replace`, has no figures there), and a life is indexed only where its figures
 * are. Spans away from the replaced hours are not walked. A life left with no hour is deleted;
 * returns the identities deleted.
 */
export function dropUnobservedHours(
  lives: Map<string, InstanceLife>,
  observations: readonly InstanceObservation[],
  replaced: readonly number[],
): string[] {
  if (replaced.length === 0) return [];
  const from = Math.min(...replaced);
  const to = Math.max(...replaced) + HOUR_MS;
  const observed = new Map<string, Set<number>>();
  for (const seen of observations) {
    const hours = observed.get(lifeIdentity(seen)) ?? new Set<number>();
    observed.set(lifeIdentity(seen), hours);
    for (const span of seen.spans)
      for (let h = Math.max(span.from, from); h < Math.min(span.to, to); h += HOUR_MS) hours.add(h);
  }
  const removed: string[] = [];
  for (const [identity, life] of lives) {
    const seenHours = observed.get(identity);
    const drop = new Set(replaced.filter((hour) => seenHours?.has(hour) !== true));
    const [left] = withoutHours([life], drop);
    if (left !== undefined) lives.set(identity, left);
    else {
      lives.delete(identity);
      removed.push(identity);
    }
  }
  return removed;
}

/**
 * `span` without the hours in `drop` (all within [from, to)), as the runs left; the same object
 * when none is dropped. Only the hours within [from, to) are walked.
 */
function spanWithout(span: HostSpan, drop: ReadonlySet<number>, from: number, to: number): HostSpan[] {
  const lo = Math.max(span.from, from);
  const hi = Math.min(span.to, to);
  const parts: HostSpan[] = lo > span.from ? [{ host: span.host, from: span.from, to: lo }] : [];
  let dropped = false;
  for (let hour = lo; hour < hi; hour += HOUR_MS) {
    if (drop.has(hour)) {
      dropped = true;
      continue;
    }
    const last = parts[parts.length - 1];
    if (last !== undefined && last.to === hour) last.to = hour + HOUR_MS;
    else parts.push({ host: span.host, from: hour, to: hour + HOUR_MS });
  }
  if (!dropped) return [span];
  const last = parts[parts.length - 1];
  if (hi < span.to) {
    if (last !== undefined && last.to === hi) last.to = span.to;
    else parts.push({ host: span.host, from: hi, to: span.to });
  }
  return parts;
}

/** The ok hours whose stored figures a batch replaced: its ok outcomes but those kept. */
export function replacedOkHours(batch: IngestBatch, kept: readonly { hour: number }[]): number[] {
  const keptHours = new Set(kept.map((k) => k.hour));
  return batch.outcomes
    .filter((outcome) => outcome.status === 'ok' && !keptHours.has(outcome.hour))
    .map((outcome) => outcome.hour);
}

/** The start of a batch's newest ok hour, which the index's `throughHour` moves forward to. */
export function newestOkHour(batch: IngestBatch): number | null {
  const ok = batch.outcomes.filter((outcome) => outcome.status === 'ok').map((outcome) => outcome.hour);
  return ok.length === 0 ? null : Math.max(...ok);
}
