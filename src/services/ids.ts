import { isoOf as iso } from '../domain/iso';
import type { Level } from '../domain/levels';
import type { Granularity } from '../domain/time';

/**
 * Stable ids for the objects a front end caches. They are readable paths; keys are URI-encoded
 * so a key holding `/` cannot make two ids collide.
 */

/**
 * `encodeURIComponent`, except that a lone surrogate (a key sent as `"\ud800"` in JSON is not
 * well-formed Unicode) becomes `%u` and its hex code instead of throwing: such a key can never be
 * stored, its series is all MISSING, and its id stays distinct (`%u` is no percent-encoding).
 */
function encodePart(text: string): string {
  try {
    return encodeURIComponent(text);
  } catch {
    let encoded = '';
    for (const char of text) {
      const code = char.charCodeAt(0);
      const lone = char.length === 1 && code >= 0xd800 && code <= 0xdfff;
      encoded += lone ? `%u${code.toString(16)}` : encodeURIComponent(char);
    }
    return encoded;
  }
}

export function usageSeriesId(level: Level, key: string, granularity: Granularity, from: number, to: number) {
  return `usage-series/${level}/${encodePart(key)}/${granularity}/${iso(from)}/${iso(to)}`;
}

/** The part of a bucket id shared by every bucket of one series. */
export function usageBucketIdPrefix(level: Level, key: string, granularity: Granularity): string {
  return `usage-bucket/${level}/${encodePart(key)}/${granularity}/`;
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
  return `machine-metrics/${encodePart(machineName)}/${days}`;
}

export function activeWorkspaceId(instance: string, startedAt: number): string {
  return `active-workspace/${encodePart(instance)}/${iso(startedAt)}`;
}

export function instanceRecordId(life: {
  instance: string;
  project: string;
  machineName: string;
  user: string;
}) {
  return `instance/${[life.instance, life.project, life.machineName, life.user].map(encodePart).join('/')}`;
}

export function dailySummaryId(user: string, date: string): string {
  return `daily-summary/${encodePart(user)}/${date}`;
}
