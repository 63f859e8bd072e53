import type { ServiceMetrics } from '../metrics';
import type { RunOutcome } from './host';

export type PluginMetrics = Pick<ServiceMetrics, 'pluginRuns' | 'pluginFailures' | 'pluginLastSuccess'>;

const FAILURES: ReadonlySet<RunOutcome['outcome']> = new Set(['failed', 'error', 'timeout']);

/**
 * An `onRun` listener for `PluginHost` that counts every plugin's runs by outcome, its failures,
 * and when it last succeeded. A run that reports it was skipped (`detail.skipped`) counts as such.
 */
export function pluginRunRecorder(
  metrics: PluginMetrics,
  now: () => number,
): (name: string, outcome: RunOutcome) => void {
  return (plugin, outcome) => {
    const skipped =
      outcome.outcome === 'skipped' ||
      (outcome.outcome !== 'error' &&
        outcome.outcome !== 'timeout' &&
        outcome.report.detail?.skipped !== undefined);
    metrics.pluginRuns.inc({ plugin, outcome: skipped ? 'skipped' : outcome.outcome });
    if (skipped) return;
    if (FAILURES.has(outcome.outcome)) metrics.pluginFailures.inc({ plugin });
    else metrics.pluginLastSuccess.set({ plugin }, now() / 1000);
  };
}

/** Several `onRun` listeners as one. */
export function allListeners(
  ...listeners: Array<(name: string, outcome: RunOutcome) => void>
): (name: string, outcome: RunOutcome) => void {
  return (name, outcome) => {
    for (const listener of listeners) listener(name, outcome);
  };
}
