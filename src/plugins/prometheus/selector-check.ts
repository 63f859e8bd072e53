import type { PrometheusConfig } from '../../config';
import { createPrometheusClient, PrometheusError } from './client';
import { cpuSecondsSelector } from './promql';

const PARSE_TIMEOUT_MS = 5_000;

/**
 * Why Prometheus refuses `prometheus.selector` as PromQL, or null: Prometheus parses it (an
 * `absent()` of the CPU series, which answers one sample at most), so the check is the parser that
 * ingestion meets. A Prometheus that cannot be reached proves nothing either way: null, and the
 * ingestion says what it meets.
 */
export async function selectorProblem(
  config: Pick<PrometheusConfig, 'url' | 'timeoutMs' | 'selector'>,
  fetch?: typeof globalThis.fetch,
): Promise<string | null> {
  if (config.selector.trim() === '') return null;
  // A parse answers at once; a Prometheus that is slow to answer must not hold up start-up.
  const timeoutMs = Math.min(config.timeoutMs, PARSE_TIMEOUT_MS);
  const client = createPrometheusClient({ url: config.url, timeoutMs, attempts: 1, fetch });
  try {
    await client.query({ query: `absent(${cpuSecondsSelector(config.selector)})`, time: Date.now() / 1000 });
    return null;
  } catch (err) {
    const refused = err instanceof PrometheusError && err.kind === 'query' && err.details.status === 400;
    return refused ? err.message : null;
  }
}
