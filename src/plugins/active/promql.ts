import { escapeRegex, quotePromqlString } from '../prometheus/promql';

/**
 * Instant PromQL for the instances running now, three queries however many instances there are.
 *
 * node_exporter reads `node_cpu_seconds_total` from /proc/stat, where the kernel counts each CPU's
 * time in each mode from boot: the counters start at 0 when the machine boots and only grow until
 * it stops. So the counter's latest value, summed over the CPUs, *is* the CPU seconds since boot;
 * no increase() and no range are needed, and a reboot shows as a new `node_boot_time_seconds` with
 * small counters. The value is the latest scrape's, so up to one scrape interval old.
 *
 * `up` carries the scrape target's labels only (job, instance and any added by target relabelling),
 * while attribution labels may sit on the CPU series alone (metric relabelling, backfilled data), so
 * the two are joined on `instance`. A target whose last scrape failed has `up == 0` (and Prometheus
 * has marked its series stale), so it drops out; so does one that is no longer scraped at all.
 */
export interface LiveQueries {
  /** CPU seconds since boot in the idle modes, per series without `cpu` and `mode`. */
  idle: string;
  /** CPU seconds since boot in every other mode. */
  busy: string;
  /** Boot time in Unix seconds, per instance. */
  bootTime: string;
}

/**
 * The configured extra matchers without braces a user may have written around them (the same
 * reading as the CPU-seconds source's).
 */
function extraMatchers(selector: string): string {
  const trimmed = selector.trim();
  const unwrapped = trimmed.startsWith('{') && trimmed.endsWith('}') ? trimmed.slice(1, -1).trim() : trimmed;
  return unwrapped.replace(/^,+|,+$/g, '').trim();
}

export function liveQueries(idleModes: readonly string[], selector: string): LiveQueries {
  const modes = quotePromqlString(idleModes.map(escapeRegex).join('|'));
  const extra = extraMatchers(selector);
  const cpuSeconds = (operator: '=~' | '!~') =>
    `sum without (cpu, mode) (node_cpu_seconds_total{mode${operator}${modes}${extra === '' ? '' : `, ${extra}`}})` +
    ' and on (instance) (up == 1)';
  return {
    idle: cpuSeconds('=~'),
    busy: cpuSeconds('!~'),
    // One boot per machine: `max by` only folds duplicates when several jobs scrape one instance.
    bootTime: 'max by (instance) (node_boot_time_seconds)',
  };
}
