import { DAY_MS, HOUR_MS } from './time';

/**
 * An instance's life (contract section 11), as the instance index keeps it. One life is one
 * `instance` label under one project, machine type and owner: a host reused by another owner, or
 * an address that comes back as another machine type, is another life, while a reboot or a stop
 * and start under the same owner is the same one.
 */
export interface InstanceLife {
  instance: string;
  project: string;
  machineName: string;
  user: string;
  /** The experiment of its latest hour seen. */
  experiment: string;
  /** Hours with samples as runs on one host, `[from, to)` epoch ms on whole hours, sorted by `from`. */
  spans: HostSpan[];
  /** When the registry says the workspace holding its host at its latest hour was deleted; null if not. */
  deletedAt: number | null;
}

export interface HostSpan {
  host: string;
  from: number;
  to: number;
}

/** What one ingestion step saw of one life: merged into the index by `mergeLife`. */
export type InstanceObservation = InstanceLife;

/** The identity of a life: two observations with the same identity are the same life. */
export function lifeIdentity(
  life: Pick<InstanceLife, 'instance' | 'project' | 'machineName' | 'user'>,
): string {
  return JSON.stringify([life.instance, life.project, life.machineName, life.user]);
}

export function firstSeen(life: InstanceLife): number {
  return life.spans[0].from;
}

/** The start of the last hour with samples. */
export function lastSeen(life: InstanceLife): number {
  return Math.max(...life.spans.map((span) => span.to)) - HOUR_MS;
}

/** How long without samples makes an instance ended (contract section 11). */
export const ENDED_AFTER_MS = DAY_MS;

/**
 * Ended: no samples for 24 hours before the end of the newest ingested hour (`throughHour` is
 * its start), or deleted in the registry by then.
 */
export function hasEnded(life: InstanceLife, throughHour: number | null): boolean {
  if (throughHour === null) return false;
  const ingestedTo = throughHour + HOUR_MS;
  if (life.deletedAt !== null && life.deletedAt <= ingestedTo) return true;
  return ingestedTo - (lastSeen(life) + HOUR_MS) >= ENDED_AFTER_MS;
}

/** Whether the life had samples in any hour overlapping [from, to). */
export function upDuring(life: InstanceLife, from: number, to: number): boolean {
  return life.spans.some((span) => span.from < to && from < span.to);
}

/** Spans as a sorted union: overlapping or touching runs on the same host become one. */
export function normaliseSpans(spans: readonly HostSpan[]): HostSpan[] {
  const sorted = [...spans].sort((a, b) => a.from - b.from || a.to - b.to || compareText(a.host, b.host));
  const out: HostSpan[] = [];
  // The newest run on each host, so a run on another host in between does not stop a merge.
  const open = new Map<string, HostSpan>();
  for (const span of sorted) {
    const current = open.get(span.host);
    if (current !== undefined && span.from <= current.to) {
      current.to = Math.max(current.to, span.to);
      continue;
    }
    const copy = { ...span };
    out.push(copy);
    open.set(span.host, copy);
  }
  return out;
}

/**
 * A life with an observation merged in: the union of their hours, and the experiment and registry
 * deletion of whichever saw the later hour. Merging the same observation again changes nothing, so
 * re-ingesting hours keeps the index as it was.
 */
export function mergeLife(known: InstanceLife | undefined, seen: InstanceObservation): InstanceLife {
  if (known === undefined) return { ...seen, spans: normaliseSpans(seen.spans) };
  const seenIsLater = lastSeen(seen) >= lastSeen(known);
  return {
    instance: known.instance,
    project: known.project,
    machineName: known.machineName,
    user: known.user,
    experiment: seenIsLater ? seen.experiment : known.experiment,
    spans: normaliseSpans([...known.spans, ...seen.spans]),
    deletedAt: seenIsLater ? seen.deletedAt : known.deletedAt,
  };
}

/** A period on one host (contract section 11's HostPeriod), `to` null while the instance is on it. */
export interface HostPeriod {
  host: string;
  from: number;
  to: number | null;
  reason: string | null;
}

/**
 * Host history: consecutive runs on the same host are one period (a stop and start on one host is
 * no move); the last period stays open until the life has ended.
 */
export function hostPeriods(life: InstanceLife, ended: boolean): HostPeriod[] {
  const periods: HostPeriod[] = [];
  for (const span of life.spans) {
    const last = periods[periods.length - 1];
    if (last !== undefined && last.host === span.host) last.to = Math.max(last.to ?? 0, span.to);
    else periods.push({ host: span.host, from: span.from, to: span.to, reason: null });
  }
  if (!ended && periods.length > 0) periods[periods.length - 1].to = null;
  return periods;
}

function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
