import type { Level } from '../domain/levels';
import type { Granularity } from '../domain/time';

/**
 * Stable ids for the objects a front end caches. They are readable paths; keys are URI-encoded
 * so a key holding `/` cannot make two ids collide.
 */

const iso = (ms: number): string => new Date(ms).toISOString();

export function usageSeriesId(level: Level, key: string, granularity: Granularity, from: number, to: number) {
  return `usage-series/${level}/${encodeURIComponent(key)}/${granularity}/${iso(from)}/${iso(to)}`;
}

/** The part of a bucket id shared by every bucket of one series. */
export function usageBucketIdPrefix(level: Level, key: string, granularity: Granularity): string {
  return `usage-bucket/${level}/${encodeURIComponent(key)}/${granularity}/`;
}

/**
 * A whole bucket's figures depend only on (level, key, granularity, start), so series over
 * different ranges share its id. A clipped bucket counts fewer hours, so its id names them.
 */
export function usageBucketId(
  prefix: string,
  start: number,
  end: number,
  countedFrom: number,
  countedTo: number,
): string {
  return countedFrom === start && countedTo === end
    ? prefix + iso(start)
    : `${prefix}${iso(start)}/${iso(countedFrom)}/${iso(countedTo)}`;
}

export function machineMetricsId(machineName: string, days: number): string {
  return `machine-metrics/${encodeURIComponent(machineName)}/${days}`;
}

export function activeWorkspaceId(instance: string, startedAt: number): string {
  return `active-workspace/${encodeURIComponent(instance)}/${iso(startedAt)}`;
}
