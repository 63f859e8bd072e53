import { createHash } from 'node:crypto';
import type { PerseusConfig } from '../../config';
import { DAY_MS, periodStart } from '../../domain/time';
import { ownValue } from '../../domain/own';
import { zeroFigures, type Breakdown, type Figures } from '../../domain/figures';

/** An entry of `additional_metrics`: a metric PERSEUS knows no resource for (seed 001). */
export interface AdditionalMetric {
  metric_id: string;
  value: number;
  contingent_factor: number;
}

/**
 * One usage report as PERSEUS's `/service/UsageReporting/{project_oid}` takes it (seed 001).
 * PERSEUS's published model names the amount `value` (required); contract section 10 names the
 * same number `usage`. Both carry it, so the body is what PERSEUS requires and what the contract
 * names.
 */
export interface UsageReportBody {
  project_oid: string;
  compute_project_id: string;
  resource_id: string;
  start: string;
  end: string;
  value: number;
  usage: number;
  contingent_factor: number;
  user?: string;
  partition?: string;
  priority?: string;
  additional_metrics: AdditionalMetric[];
  additional_data: Record<string, unknown>;
}

/** One entry to deliver: its body, and the match key PERSEUS overwrites on. */
export interface UsageReport {
  projectOid: string;
  project: string;
  day: string;
  key: string;
  body: UsageReportBody;
  bodySha256: string;
}

/** The attributes PERSEUS matches an entry on (seed 001), as one string. */
export function matchKey(
  body: Pick<
    UsageReportBody,
    'project_oid' | 'compute_project_id' | 'resource_id' | 'start' | 'end' | 'user' | 'partition' | 'priority'
  >,
): string {
  return JSON.stringify([
    body.project_oid,
    body.compute_project_id,
    body.resource_id,
    body.start,
    body.end,
    body.user ?? null,
    body.partition ?? null,
    body.priority ?? null,
  ]);
}

/** The match attributes a key holds, so an entry no longer produced can be sent again as zero. */
export function attributesOfKey(key: string): { user: string | null; partition: string | null } {
  const parts = JSON.parse(key) as Array<string | null>;
  return { user: parts[5] ?? null, partition: parts[6] ?? null };
}

/** The usage in the configured unit: CPU core-hours of busy and idle time, or their kWh. */
export function usageIn(unit: PerseusConfig['unit'], figures: Figures): number {
  return unit === 'kwh'
    ? figures.busyKwh + figures.idleKwh
    : (figures.busyCpuSeconds + figures.idleCpuSeconds) / 3600;
}

/** What stands behind a day's figures, sent as `additional_data`. */
export interface DayProvenance {
  /** Carbon-intensity sources of the day's hours. */
  intensitySources: string[];
  /** Hours whose intensity was a fallback. */
  estimatedHours: number;
}

export interface ProjectDay {
  project: string;
  /** `YYYY-MM-DD`. */
  day: string;
  /** The day's totals; null when the project had no usage that day. */
  totals: Breakdown | null;
  /** Per user, when `perUser`: each user's totals in the project that day. */
  byUser?: ReadonlyMap<string, Breakdown>;
}

function body(
  config: PerseusConfig,
  projectOid: string,
  projectDay: ProjectDay,
  figures: Figures,
  provenance: DayProvenance,
  split: { user?: string; partition?: string },
): UsageReportBody {
  const start = periodStart(projectDay.day);
  const amount = usageIn(config.unit, figures);
  return {
    project_oid: projectOid,
    compute_project_id: projectDay.project,
    resource_id: config.resource,
    start: new Date(start).toISOString(),
    end: new Date(start + DAY_MS).toISOString(),
    value: amount,
    usage: amount,
    contingent_factor: config.contingentFactor,
    ...(split.user === undefined ? {} : { user: split.user }),
    ...(split.partition === undefined ? {} : { partition: split.partition }),
    ...(config.priority === null ? {} : { priority: config.priority }),
    // Reported for graphs only: contingent factor 0 keeps them out of the used contingent.
    additional_metrics: [
      { metric_id: 'busy_kwh', value: figures.busyKwh, contingent_factor: 0 },
      { metric_id: 'idle_kwh', value: figures.idleKwh, contingent_factor: 0 },
      { metric_id: 'gco2eq', value: figures.busyGco2eq + figures.idleGco2eq, contingent_factor: 0 },
    ],
    additional_data: {
      generator: 'carbonledger',
      unit: config.unit,
      busy_cpu_seconds: figures.busyCpuSeconds,
      idle_cpu_seconds: figures.idleCpuSeconds,
      busy_gco2eq: figures.busyGco2eq,
      idle_gco2eq: figures.idleGco2eq,
      complete_hours: 24,
      intensity_sources: provenance.intensitySources,
      estimated_intensity_hours: provenance.estimatedHours,
    },
  };
}

function report(projectDay: ProjectDay, projectOid: string, reportBody: UsageReportBody): UsageReport {
  return {
    projectOid,
    project: projectDay.project,
    day: projectDay.day,
    key: matchKey(reportBody),
    body: reportBody,
    bodySha256: createHash('sha256').update(JSON.stringify(reportBody)).digest('hex'),
  };
}

/**
 * The entries of one project's complete day (pure): one, or one per user and/or machine type as
 * configured. A project with no usage that day gets one entry of zero, so a day repaired down to
 * nothing overwrites what was sent before. `previousKeys` are keys sent before for this project
 * and day; any this day no longer produces is sent as zero, for the same reason.
 */
export function reportsOfDay(
  config: PerseusConfig,
  projectDay: ProjectDay,
  provenance: DayProvenance,
  options: {
    /** Keys sent before for this project and day. */
    previousKeys?: readonly string[];
    /** Machine type by machine key, to name a partition; a key not here names itself. */
    machineNames?: ReadonlyMap<string, string>;
  } = {},
): UsageReport[] {
  const { previousKeys = [], machineNames = new Map<string, string>() } = options;
  const projectOid = ownValue(config.projects, projectDay.project);
  if (projectOid === undefined) return [];
  const byUser: Array<[string | undefined, Breakdown | null]> = config.perUser
    ? [...(projectDay.byUser ?? new Map<string, Breakdown>())].sort(([a], [b]) =>
        a < b ? -1 : a > b ? 1 : 0,
      )
    : [[undefined, projectDay.totals]];
  const reports: UsageReport[] = [];
  const make = (figures: Figures, split: { user?: string; partition?: string }) =>
    reports.push(
      report(projectDay, projectOid, body(config, projectOid, projectDay, figures, provenance, split)),
    );
  for (const [user, totals] of byUser) {
    if (config.partition === 'machine') {
      for (const [machine, figures] of Object.entries(totals?.byMachine ?? {}))
        make(figures, { user, partition: machineNames.get(machine) ?? machine });
    } else {
      make(totals?.all ?? zeroFigures(), { user });
    }
  }
  if (reports.length === 0 && !config.perUser && config.partition === null) make(zeroFigures(), {});
  const produced = new Set(reports.map((r) => r.key));
  for (const key of previousKeys) {
    if (produced.has(key)) continue;
    const { user, partition } = attributesOfKey(key);
    make(zeroFigures(), { user: user ?? undefined, partition: partition ?? undefined });
  }
  return reports;
}
