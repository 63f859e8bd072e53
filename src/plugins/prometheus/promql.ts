import { HOUR_MS } from '../../domain/time';

/**
 * PromQL for hourly CPU seconds per series.
 *
 * `increase(node_cpu_seconds_total[1h])` evaluated at t is the counter's growth over the window
 * [t − 1h, t]; evaluated every hour (step 3600 s) the windows tile time with no double counting:
 * increase() sums the growth between consecutive samples inside its window and extrapolates from the
 * first and last sample only out to the window's own edges, never past them. Prometheus ≤ 2.x range
 * selectors are closed, so a sample exactly on the hour is in both windows, but as the last sample of
 * one and the first of the next: each pair of samples is counted once. A pair that straddles the hour
 * is in neither window; each side's extrapolation covers its part up to the boundary. (3.x makes the
 * window left-open, (t − 1h, t]: an on-the-hour sample then belongs to the earlier window only, and
 * the pair after it is covered by extrapolation the same way.)
 * Counter resets (reboots) are handled by increase(), which adds back the value before each drop.
 * See https://prometheus.io/docs/prometheus/latest/querying/functions/#increase and
 * `extrapolatedRate` in promql/functions.go.
 *
 * `sum without (cpu, mode)` adds up the CPUs and the modes of one side (idle or busy) and keeps every
 * other label, so the attribution labels (project, machine, host, …) survive; increase() has already
 * dropped the metric name.
 */

export interface CpuSecondsQueries {
  /** CPU seconds in the idle modes, per series and hour. */
  idle: string;
  /** CPU seconds in every other mode. */
  busy: string;
}

/** Escapes RE2 metacharacters, so a mode name matches literally (Go's regexp.QuoteMeta). */
export function escapeRegex(text: string): string {
  return text.replace(/[\\.+*?()|[\]{}^$]/g, '\\$&');
}

/** Quotes text as a PromQL double-quoted string literal. */
export function quotePromqlString(text: string): string {
  return `"${text.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`;
}

/** The configured extra matchers, without the braces a user may have written around them. */
function extraMatchers(selector: string): string {
  const trimmed = selector.trim();
  const unwrapped = trimmed.startsWith('{') && trimmed.endsWith('}') ? trimmed.slice(1, -1).trim() : trimmed;
  return unwrapped.replace(/^,+|,+$/g, '').trim();
}

/** The CPU series as the source selects it, for messages: `node_cpu_seconds_total{job="node"}`. */
export function cpuSecondsSelector(selector: string): string {
  return `node_cpu_seconds_total{${extraMatchers(selector)}}`;
}

export function cpuSecondsQueries(idleModes: readonly string[], selector: string): CpuSecondsQueries {
  const modes = quotePromqlString(idleModes.map(escapeRegex).join('|'));
  const extra = extraMatchers(selector);
  const query = (operator: '=~' | '!~') =>
    `sum without (cpu, mode) (increase(node_cpu_seconds_total{mode${operator}${modes}${extra === '' ? '' : `, ${extra}`}}[1h]))`;
  return { idle: query('=~'), busy: query('!~') };
}

/** A query_range window, in the API's units: Unix seconds and a step in seconds. */
export interface HourlyRange {
  start: number;
  end: number;
  step: number;
}

/**
 * The evaluation range that answers hours [firstHour, lastHour] (epoch ms, hour starts): the point at
 * time t covers the hour t − 1h, so evaluation runs from firstHour + 1h to lastHour + 1h.
 */
export function hourlyRange(firstHour: number, lastHour: number): HourlyRange {
  return { start: (firstHour + HOUR_MS) / 1000, end: (lastHour + HOUR_MS) / 1000, step: HOUR_MS / 1000 };
}

/** The hour (epoch ms) that the point evaluated at `seconds` (Unix seconds) covers. */
export function hourOfPoint(seconds: number): number {
  return seconds * 1000 - HOUR_MS;
}
