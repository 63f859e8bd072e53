import type { ServiceMetrics } from '../metrics';
import type { RunOutcome } from '../plugins/host';
import type { Store } from '../store/store';
import { findLastOkHour, INGEST_PLUGIN } from './plugin';
import { RECONCILE_PLUGIN } from './reconcile';

export type IngestMetrics = Pick<
  ServiceMetrics,
  'ingestRuns' | 'ingestFailedHours' | 'ingestNoDataHours' | 'ingestKeptHours' | 'lastOkHour'
>;

/** The plugins whose runs count as ingestion runs. */
export const INGEST_PLUGIN_NAMES: ReadonlySet<string> = new Set([INGEST_PLUGIN, RECONCILE_PLUGIN]);

/**
 * Feeds the ingestion metrics from one run's outcome: `ingestRuns` by outcome (a run that found the
 * ingest lock held counts as `skipped`), `ingestFailedHours` by the hours it stored as failed,
 * `ingestNoDataHours` by the ok hours no instance had samples in, `ingestKeptHours` by the ok
 * hours whose figures it kept against an answer with fewer series or samples, and `lastOkHour` from the
 * newest ok hour it reports.
 */
export function recordRunOutcome(metrics: IngestMetrics, outcome: RunOutcome): void {
  if (outcome.outcome !== 'ok' && outcome.outcome !== 'failed') {
    metrics.ingestRuns.inc({ outcome: outcome.outcome });
    return;
  }
  const detail = outcome.report.detail ?? {};
  metrics.ingestRuns.inc({ outcome: detail.skipped === undefined ? outcome.outcome : 'skipped' });
  if (typeof detail.failedHours === 'number' && detail.failedHours > 0) {
    metrics.ingestFailedHours.inc(detail.failedHours);
  }
  if (typeof detail.noDataHours === 'number' && detail.noDataHours > 0) {
    metrics.ingestNoDataHours.inc(detail.noDataHours);
  }
  if (typeof detail.keptHours === 'number' && detail.keptHours > 0) {
    metrics.ingestKeptHours.inc(detail.keptHours);
  }
  if (typeof detail.lastOkHour === 'string') {
    const ms = Date.parse(detail.lastOkHour);
    if (Number.isFinite(ms)) metrics.lastOkHour.set(ms / 1000);
  }
}

/** An `onRun` listener for `PluginHost` that records the ingestion plugins' runs and ignores the rest. */
export function ingestRunRecorder(metrics: IngestMetrics): (name: string, outcome: RunOutcome) => void {
  return (name, outcome) => {
    if (INGEST_PLUGIN_NAMES.has(name)) recordRunOutcome(metrics, outcome);
  };
}

/** Sets `lastOkHour` from the ledger, so the gauge is right from start-up rather than from the first run. */
export async function primeLastOkHour(metrics: IngestMetrics, store: Store, now: number): Promise<void> {
  const lastOk = await findLastOkHour(store, now);
  if (lastOk !== undefined) metrics.lastOkHour.set(lastOk / 1000);
}
