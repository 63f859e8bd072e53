import type { Figures } from '../../domain/figures';
import { CPU_NAMES, METRICS, RESOURCE_NAMES, type MetricName } from '../../domain/metrics';

/** The catalogue's snake_case names: the seed's six (contract section 3), the resources beside them. */
export const STORED_NAME = Object.fromEntries(
  METRICS.map((metric) => [metric.name, metric.stored]),
) as Record<MetricName, string>;

/**
 * The figures a file holds: the seed's six always, the resources only where any is not 0, so a
 * CPU-only store keeps the seed's bytes and an old store reads its resources as 0.
 */
export function storedFields(figures: Figures): readonly MetricName[] {
  return RESOURCE_NAMES.some((name) => figures[name] !== 0) ? STORED_FIELDS : CPU_NAMES;
}

export const STORED_FIELDS: readonly MetricName[] = [...CPU_NAMES, ...RESOURCE_NAMES];

export const HOUR_LABEL = /^([01]\d|2[0-3]):00$/;
