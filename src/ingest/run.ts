import {
  instanceHoursByMachine,
  projectsByInstance,
  projectUserHours,
  sampledHoursByMachine,
  toAllLevelEntries,
} from '../aggregate/day-entries';
import { observeInstances } from '../aggregate/instance-lives';
import type { EnergyConfig, PrometheusConfig } from '../config';
import { attribute } from '../domain/attribution';
import { UNKNOWN } from '../domain/levels';
import { costInstanceHour } from '../domain/energy';
import { cpuSecondsProblem, figuresProblem, intensityProblem } from '../domain/plausible';
import { DAY_MS, HOUR_MS } from '../domain/time';
import type {
  CostedInstanceHour,
  HourIntensity,
  HourOutcome,
  IngestBatch,
  ProjectUserHour,
  RawInstanceHour,
} from '../domain/usage';
import { errorFields, type Logger } from '../log';
import type { CarbonIntensitySource, CpuSecondsSource, SourceHour } from './ports';
import type { WorkspaceRegistry } from '../domain/attribution';
import type { ProjectUserFigures } from '../store/project-users';
import type { Store, StoreWriter } from '../store/store';
import { withStoredKeys } from '../store/rules/keys';
import { contiguousRanges } from './ledger-hours';
import { emptyReport, type IngestReport } from './report';

export interface IngestDeps {
  source: CpuSecondsSource;
  carbon: CarbonIntensitySource;
  registry: WorkspaceRegistry;
  store: Store;
  /** The store's writer when the caller holds it already; otherwise the run takes it. */
  writer?: StoreWriter;
  energy: EnergyConfig;
  labels: PrometheusConfig['labels'];
  /** What the source asks for (the series and selector), named when an hour comes back empty. */
  sourceQuery?: string;
  /** Most hours fetched, costed and stored together (a step); makes progress visible. */
  stepHours: number;
  /** Most instance-hours a step holds (default STEP_INSTANCE_HOURS); what bounds memory. */
  stepInstanceHours?: number;
  now: () => number;
  log: Logger;
  signal?: AbortSignal;
  onProgress?: (doneHours: number, totalHours: number) => void;
  /** Ok answers replace ok hours even with fewer series or samples than stored (`ingest --replace`). */
  replace?: boolean;
  /** Where each ok hour's usage by project and user goes, when a sink reports per user. */
  projectUsers?: ProjectUserFigures;
}

export type { IngestReport } from './report';

/** Most hour ranges a no-data warning lists; the count says how many there were. */
const LISTED_RANGES = 20;

/** The hours as `from/to` ISO intervals, contiguous hours joined. */
export function hourRanges(hours: readonly number[], limit = LISTED_RANGES): string[] {
  return contiguousRanges(hours)
    .slice(0, limit)
    .map(([from, to]) => `${new Date(from).toISOString()}/${new Date(to).toISOString()}`);
}

/**
 * Instance-hours one step holds at most. A step's Prometheus answers, costed hours and every
 * level's day entries are in memory together, so this, rather than the fleet's size, bounds what
 * an ingestion takes: a thousand instances go eight hours at a time, a hundred three days and a
 * bit. With the resource series beside CPU, 24,000 took the bench's 100 × 30 to 310 MB peak RSS;
 * 8,000 to 231 MB in the same time (more, smaller range queries).
 */
export const STEP_INSTANCE_HOURS = 8_000;

/** The fleet a step is sized for before the first answer tells the real one. */
export const FIRST_STEP_FLEET = 1_000;

/**
 * The end of the step that starts at `start`: at most `maxHours`, and at most `budget` instance-hours
 * for a fleet of `instances` (before the first answer, a fleet of FIRST_STEP_FLEET: a guess of a
 * day, whatever the budget, held a day of a thousand VMs, three budgets, and set the peak memory
 * of a whole backfill).
 * A step of a day or more ends on a UTC midnight, so each day entry is written by one step only;
 * a shorter one never crosses a midnight, so the steps of a day tile it and the next day starts
 * afresh (a day entry written by two steps is read back and merged by the second).
 */
export function stepEnd(
  start: number,
  toHour: number,
  maxHours: number,
  instances: number | undefined,
  budget: number,
): number {
  const byBudget = Math.floor(budget / Math.max(1, instances ?? FIRST_STEP_FLEET));
  const hours = Math.max(1, Math.min(maxHours, byBudget));
  const end = start + hours * HOUR_MS;
  const midnight = Math.floor(end / DAY_MS) * DAY_MS;
  const nextMidnight = Math.floor(start / DAY_MS) * DAY_MS + DAY_MS;
  const aligned = hours >= 24 ? (midnight > start ? midnight : end) : Math.min(end, nextMidnight);
  return Math.min(toHour, aligned);
}

/** The most instances with data in any ok hour of a step's answer. */
function peakInstances(fetched: Map<number, SourceHour>): number | undefined {
  let peak: number | undefined;
  for (const answer of fetched.values()) {
    if (answer.status === 'ok') peak = Math.max(peak ?? 0, answer.rows.length);
  }
  return peak;
}

/**
 * Ingests the whole hours in [fromHour, toHour): fetches CPU seconds, attributes and costs each
 * instance-hour, aggregates every level and hands each step to the store. A failed hour is stored
 * as failed, never as zero. Idempotent: the store replaces exactly the hours it is given.
 * The store's writer is released (every roll-up level) before returning, or failing, unless the
 * caller handed in its own.
 */
export async function ingestRange(deps: IngestDeps, fromHour: number, toHour: number): Promise<IngestReport> {
  if (deps.writer !== undefined) return ingestWith(deps, deps.writer, fromHour, toHour);
  const writer = await deps.store.openWriter({ purpose: 'ingest', signal: deps.signal });
  try {
    return await ingestWith(deps, writer, fromHour, toHour);
  } finally {
    await writer.release();
  }
}

async function ingestWith(
  deps: IngestDeps,
  writer: StoreWriter,
  fromHour: number,
  toHour: number,
): Promise<IngestReport> {
  const report = emptyReport();
  const totalHours = Math.max(0, (toHour - fromHour) / HOUR_MS);
  deps.onProgress?.(0, totalHours);
  const budget = deps.stepInstanceHours ?? STEP_INSTANCE_HOURS;
  const stepFrom = (start: number, instances: number | undefined): [number, number] | undefined =>
    start < toHour ? [start, stepEnd(start, toHour, deps.stepHours, instances, budget)] : undefined;
  const fetchStep = ([start, end]: [number, number]) => {
    const fetching = Promise.all([
      deps.source.fetchHours(start, end, deps.signal),
      deps.carbon.intensities(start, end, deps.signal),
    ]);
    // Awaited in its turn; until then a rejection must not count as unhandled.
    fetching.catch(() => undefined);
    return fetching;
  };
  let step = stepFrom(fromHour, undefined);
  // One step ahead: Prometheus answers the next step while this one is costed, aggregated and
  // stored, so neither waits for the other. Memory holds two steps at most.
  let next = step === undefined ? undefined : fetchStep(step);
  let instances: number | undefined;
  while (step !== undefined) {
    const [start, end] = step;
    deps.signal?.throwIfAborted();
    const [fetched, intensities] = await next!;
    instances = peakInstances(fetched) ?? instances;
    const following = stepFrom(end, instances);
    next = following === undefined ? undefined : fetchStep(following);
    // Built before the store is awaited, so only the batch, not the answers and costed hours it
    // came from, stays in memory while the store works.
    const costedStep = costStep(deps, start, end, fetched, intensities);
    const { keptHours } = await writer.applyBatch(costedStep.batch, { replace: deps.replace === true });
    if (deps.projectUsers !== undefined) {
      // Hours whose stored figures the store kept keep their project × user figures too.
      const kept = new Set(keptHours.map((k) => k.hour));
      const replaced = costedStep.okHourStarts.filter((hour) => !kept.has(hour));
      await deps.projectUsers.replaceHours(replaced, costedStep.projectUsers);
    }
    const { okHours, failed, projectInstanceHours, noDataHours } = costedStep;
    const instanceHours = costedStep.instanceHours - instanceHoursOf(costedStep.batch, keptHours);
    report.hours += (end - start) / HOUR_MS;
    report.okHours += okHours;
    report.failed.push(...failed);
    report.kept.push(...keptHours);
    report.instanceHours += instanceHours;
    report.projectInstanceHours += projectInstanceHours;
    report.noDataHours.push(...noDataHours);
    deps.log.info('ingested step', {
      from: new Date(start).toISOString(),
      to: new Date(end).toISOString(),
      okHours,
      failedHours: failed.length,
      noDataHours: noDataHours.length,
      keptHours: keptHours.length,
      instanceHours,
    });
    for (const kept of keptHours) {
      deps.log.warn('kept the stored figures of an ok hour', {
        hour: new Date(kept.hour).toISOString(),
        reason: kept.reason,
      });
    }
    deps.onProgress?.(report.hours, totalHours);
    step = following;
  }
  warnOfNoData(deps, report.noDataHours);
  if (report.instanceHours > 0) await warnOfUnmatchedConfig(deps, report);
  return report;
}

/** The instance-hours a batch's outcomes count in the given hours (the ones the store kept). */
function instanceHoursOf(batch: IngestBatch, hours: readonly { hour: number }[]): number {
  const wanted = new Set(hours.map(({ hour }) => hour));
  let sum = 0;
  for (const outcome of batch.outcomes) {
    if (outcome.status !== 'ok' || !wanted.has(outcome.hour)) continue;
    for (const count of Object.values(outcome.instanceHours)) sum += count;
  }
  return sum;
}

/**
 * Config that matches nothing changes no figure, so it would stay silent: an `energy.machines`
 * entry no instance has ever had (a typo keeps the default watts; checked against every machine
 * type the store holds), and a project label no series of this run has (its usage all counted
 * under `unknown`, however many projects earlier runs stored).
 */
async function warnOfUnmatchedConfig(deps: IngestDeps, report: IngestReport): Promise<void> {
  if (report.projectInstanceHours === 0) {
    deps.log.warn(`prometheus.labels.project: no series of this run has the label "${deps.labels.project}"`, {
      consequence: `all ${report.instanceHours} instance-hours are counted under the project "${UNKNOWN}"`,
    });
  }
  let machines: string[];
  try {
    machines = await deps.store.listKeys('MACHINE');
  } catch (err) {
    // Only a warning hangs on it: the run's figures are committed, so the run still succeeded.
    deps.log.warn('could not check the config against the stored keys', errorFields(err));
    return;
  }
  const known = new Set(machines);
  const unmatched = Object.keys(deps.energy.machines).filter((name) => !known.has(name));
  if (unmatched.length > 0) {
    deps.log.warn('energy.machines: no instance has ever had these machine types; their watts are unused', {
      unmatched: unmatched.map((name) => `energy.machines.${name}`),
      label: deps.labels.machine,
      machineTypes: machines.slice(0, 20),
    });
  }
}

function warnOfNoData(deps: IngestDeps, hours: readonly number[]): void {
  if (hours.length === 0) return;
  deps.log.warn('no instance had samples in these hours: stored ok with no usage', {
    noDataHours: hours.length,
    hours: hourRanges(hours),
    query: deps.sourceQuery,
    hint: 'check prometheus.selector and that Prometheus scraped node_exporter then',
  });
}

/**
 * One ok hour's rows attributed and costed, or why the hour must fail: whatever the source, a
 * figure that cannot be true (CPU seconds no machine can spend, an energy or carbon figure that is
 * not a finite number ≥ 0) fails its hour with the reason, and the rest of the run goes on.
 */
function costHour(
  deps: IngestDeps,
  rows: readonly RawInstanceHour[],
  intensity: HourIntensity,
): { status: 'ok'; costed: CostedInstanceHour[] } | { status: 'failed'; error: string } {
  const badIntensity = intensityProblem(intensity.gPerKwh);
  if (badIntensity !== undefined) {
    return { status: 'failed', error: `the carbon intensity ${intensity.gPerKwh} g/kWh ${badIntensity}` };
  }
  const costed: CostedInstanceHour[] = [];
  for (const row of rows) {
    for (const side of ['busyCpuSeconds', 'idleCpuSeconds'] as const) {
      const problem = cpuSecondsProblem(row[side]);
      if (problem !== undefined) {
        return {
          status: 'failed',
          error: `${side} ${row[side]} of instance ${JSON.stringify(row.instance)} ${problem}`,
        };
      }
    }
    const attributed = withStoredKeys(attribute(row, deps.labels, deps.registry));
    const hour = costInstanceHour(attributed, deps.energy, intensity.gPerKwh);
    const problem = figuresProblem(hour);
    if (problem !== undefined) {
      return {
        status: 'failed',
        error: `the figures of instance ${JSON.stringify(row.instance)} overflow: ${problem}`,
      };
    }
    costed.push(hour);
  }
  return { status: 'ok', costed };
}

interface CostedStep {
  batch: IngestBatch;
  okHours: number;
  okHourStarts: number[];
  /** Filled only when `deps.projectUsers` is set. */
  projectUsers: ProjectUserHour[];
  failed: IngestReport['failed'];
  instanceHours: number;
  projectInstanceHours: number;
  noDataHours: number[];
}

/** One step's answers attributed, costed and aggregated into the batch the store applies. */
function costStep(
  deps: IngestDeps,
  stepStart: number,
  stepStop: number,
  fetched: Map<number, SourceHour>,
  intensities: Map<number, HourIntensity>,
): CostedStep {
  const costed: CostedInstanceHour[] = [];
  const outcomes: HourOutcome[] = [];
  const okHours: number[] = [];
  const failed: CostedStep['failed'] = [];
  const noDataHours: number[] = [];
  for (let hour = stepStart; hour < stepStop; hour += HOUR_MS) {
    const answer = fetched.get(hour) ?? {
      status: 'failed',
      error: 'the source gave no answer for this hour',
    };
    const intensity = intensities.get(hour);
    if (!intensity && answer.status === 'ok')
      throw new Error(`carbon source gave no intensity for ${new Date(hour).toISOString()}`);
    const hourCosted = answer.status === 'failed' ? answer : costHour(deps, answer.rows, intensity!);
    if (hourCosted.status === 'failed') {
      outcomes.push({ hour, status: 'failed', error: hourCosted.error });
      failed.push({ hour, error: hourCosted.error });
      continue;
    }
    if (answer.status === 'ok' && answer.rows.length === 0) noDataHours.push(hour);
    costed.push(...hourCosted.costed);
    okHours.push(hour);
  }
  const counts = instanceHoursByMachine(costed);
  const sampled = sampledHoursByMachine(costed);
  for (const hour of okHours) {
    const sampledHours = sampled.get(hour);
    outcomes.push({
      hour,
      status: 'ok',
      intensity: intensities.get(hour)!,
      instanceHours: counts.get(hour) ?? {},
      ...(sampledHours !== undefined && { sampledHours }),
    });
  }
  outcomes.sort((a, b) => a.hour - b.hour);
  return {
    batch: {
      outcomes,
      entries: toAllLevelEntries(costed),
      attemptedAt: deps.now(),
      instanceProjects: projectsByInstance(costed),
      instances: observeInstances(
        costed,
        (host, hour) => deps.registry.lookup(host, hour)?.deletedAt ?? null,
      ),
    },
    okHours: okHours.length,
    okHourStarts: okHours,
    projectUsers: deps.projectUsers === undefined ? [] : projectUserHours(costed),
    failed,
    instanceHours: costed.length,
    projectInstanceHours: costed.filter((hour) => hour.project !== UNKNOWN).length,
    noDataHours,
  };
}
