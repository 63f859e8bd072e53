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

/**
 * PromQL for the resources beside CPU (contract section 8), per series and hour at step 3600 s.
 * Every query keeps the target's labels (the instance, job and attribution labels) and nothing
 * else, so its series join the CPU rows of the same target.
 *
 * - `cpus`: the CPUs of the target in the hour. CPU seconds of every mode of one CPU add up to the
 *   seconds it ran, so (busy + idle) / cpus is the time up, with increase()'s handling of boots,
 *   stops and gaps.
 * - `memory`, `disk`: the mean in-use bytes over the target's samples in [H, H+1h). A gauge holds
 *   its value until the next scrape, so the hour's samples are those taken in [H, H+1h): the window
 *   ends 1 ms before the evaluation time (closed windows in 2.x, left-open in 3.x: the same samples).
 *   Disk sums each filesystem's samples and divides by the count of the target's memory samples,
 *   so a filesystem mounted mid-hour counts for the part of the hour it was there.
 * - `receive`, `transmit`: counters, with increase() exactly as for CPU seconds.
 */
export interface ResourceQueries {
  cpus: string;
  memory: string;
  disk: string;
  receive: string;
  transmit: string;
}

export interface ResourceQueryOptions {
  selector: string;
  /** RE2, matched against the whole `fstype`. */
  excludeFstypes: string;
  /** RE2, matched against the whole `device`. */
  excludeDevices: string;
}

export function resourceQueries(options: ResourceQueryOptions): ResourceQueries {
  const extra = extraMatchers(options.selector);
  const matchers = (...own: string[]) => `{${[...own, ...(extra === '' ? [] : [extra])].join(', ')}}`;
  const samplesOfHour = (metric: string, selector: string) => `${metric}${selector}[1h] offset 1ms`;
  const target = matchers();
  const filesystems = matchers(`fstype!~${quotePromqlString(options.excludeFstypes)}`);
  const devices = matchers(`device!~${quotePromqlString(options.excludeDevices)}`);
  const traffic = (metric: string) => `sum without (device) (increase(${metric}${devices}[1h]))`;
  return {
    cpus: `count without (cpu) (count without (mode) (last_over_time(node_cpu_seconds_total${target}[1h])))`,
    memory:
      `avg_over_time(${samplesOfHour('node_memory_MemTotal_bytes', target)})` +
      ` - avg_over_time(${samplesOfHour('node_memory_MemAvailable_bytes', target)})`,
    disk:
      `sum without (device, fstype, mountpoint) (` +
      `sum_over_time(${samplesOfHour('node_filesystem_size_bytes', filesystems)})` +
      ` - sum_over_time(${samplesOfHour('node_filesystem_avail_bytes', filesystems)}))` +
      ` / count_over_time(${samplesOfHour('node_memory_MemTotal_bytes', target)})`,
    receive: traffic('node_network_receive_bytes_total'),
    transmit: traffic('node_network_transmit_bytes_total'),
  };
}
