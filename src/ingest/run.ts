import { instanceHoursByMachine, projectsByInstance, toAllLevelEntries } from '../aggregate/day-entries';
import type { EnergyConfig, PrometheusConfig } from '../config';
import { attribute } from '../domain/attribution';
import { costInstanceHour } from '../domain/energy';
import { HOUR_MS } from '../domain/time';
import type { CostedInstanceHour, HourOutcome } from '../domain/usage';
import type { Logger } from '../log';
import type { CarbonIntensitySource } from '../plugins/carbon/source';
import type { CpuSecondsSource } from '../plugins/source';
import type { WorkspaceRegistry } from '../plugins/workspaces/registry';
import type { Store } from '../store/store';

export interface IngestDeps {
  source: CpuSecondsSource;
  carbon: CarbonIntensitySource;
  registry: WorkspaceRegistry;
  store: Store;
  energy: EnergyConfig;
  labels: PrometheusConfig['labels'];
  /** Hours fetched, costed and stored together; bounds memory and makes progress visible. */
  stepHours: number;
  now: () => number;
  log: Logger;
  signal?: AbortSignal;
  onProgress?: (doneHours: number, totalHours: number) => void;
}

export interface IngestReport {
  hours: number;
  okHours: number;
  failed: Array<{ hour: number; error: string }>;
  /** Instance-hours written. */
  instanceHours: number;
}

/**
 * Ingests the whole hours in [fromHour, toHour): fetches CPU seconds, attributes and costs each
 * instance-hour, aggregates every level and hands each step to the store. A failed hour is stored
 * as failed, never as zero. Idempotent: the store replaces exactly the hours it is given.
 */
export async function ingestRange(deps: IngestDeps, fromHour: number, toHour: number): Promise<IngestReport> {
  const report: IngestReport = { hours: 0, okHours: 0, failed: [], instanceHours: 0 };
  const totalHours = Math.max(0, (toHour - fromHour) / HOUR_MS);
  deps.onProgress?.(0, totalHours);
  const steps: Array<[number, number]> = [];
  for (let stepStart = fromHour; stepStart < toHour; stepStart += deps.stepHours * HOUR_MS) {
    steps.push([stepStart, Math.min(toHour, stepStart + deps.stepHours * HOUR_MS)]);
  }
  const fetchStep = ([stepStart, stepEnd]: [number, number]) => {
    const fetching = Promise.all([
      deps.source.fetchHours(stepStart, stepEnd, deps.signal),
      deps.carbon.intensities(stepStart, stepEnd, deps.signal),
    ]);
    // Awaited in its turn; until then a rejection must not count as unhandled.
    fetching.catch(() => undefined);
    return fetching;
  };
  // One step ahead: Prometheus answers the next step while this one is costed, aggregated and
  // stored, so neither waits for the other. Memory holds two steps at most.
  let next = steps.length > 0 ? fetchStep(steps[0]) : undefined;
  for (const [index, [stepStart, stepEnd]] of steps.entries()) {
    deps.signal?.throwIfAborted();
    const [fetched, intensities] = await next!;
    next = index + 1 < steps.length ? fetchStep(steps[index + 1]) : undefined;

    const costed: CostedInstanceHour[] = [];
    const outcomes: HourOutcome[] = [];
    const okHours: number[] = [];
    for (let hour = stepStart; hour < stepEnd; hour += HOUR_MS) {
      const answer = fetched.get(hour) ?? {
        status: 'failed',
        error: 'the source gave no answer for this hour',
      };
      const intensity = intensities.get(hour);
      if (answer.status === 'failed') {
        outcomes.push({ hour, status: 'failed', error: answer.error });
        report.failed.push({ hour, error: answer.error });
        continue;
      }
      if (!intensity) throw new Error(`carbon source gave no intensity for ${new Date(hour).toISOString()}`);
      for (const row of answer.rows) {
        costed.push(
          costInstanceHour(attribute(row, deps.labels, deps.registry), deps.energy, intensity.gPerKwh),
        );
      }
      okHours.push(hour);
    }
    const counts = instanceHoursByMachine(costed);
    for (const hour of okHours) {
      outcomes.push({
        hour,
        status: 'ok',
        intensity: intensities.get(hour)!,
        instanceHours: counts.get(hour) ?? {},
      });
    }
    outcomes.sort((a, b) => a.hour - b.hour);

    await deps.store.applyBatch({
      outcomes,
      entries: toAllLevelEntries(costed),
      attemptedAt: deps.now(),
      instanceProjects: projectsByInstance(costed),
    });
    report.hours += outcomes.length;
    report.okHours += okHours.length;
    report.instanceHours += costed.length;
    deps.onProgress?.(report.hours, totalHours);
    deps.log.info('ingested step', {
      from: new Date(stepStart).toISOString(),
      to: new Date(stepEnd).toISOString(),
      okHours: okHours.length,
      failedHours: outcomes.length - okHours.length,
      instanceHours: costed.length,
    });
  }
  return report;
}
