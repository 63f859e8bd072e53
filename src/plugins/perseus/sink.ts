import { PerseusSchema, type PerseusConfig } from '../../config';
import { machineKey } from '../../domain/machine-key';
import { DAY_MS, HOUR_MS, nextBucketStart, periodStart, utcDate, utcMonth } from '../../domain/time';
import type { DayEntry, LedgerHour } from '../../domain/usage';
import type { Logger } from '../../log';
import type { Delivery, DeliveryLog } from '../../store/deliveries';
import type { ProjectUserFigures } from '../../store/project-users';
import { PartialReadError, UnreadableDataError, type Store } from '../../store/store';
import type { ScheduledPlugin } from '../host';
import { postUsageReport } from './client';
import { reportsOfDay, type DayProvenance, type UsageReport } from './report';

export const PERSEUS_SINK = 'perseus';

export interface PerseusDeps {
  deliveries: DeliveryLog;
  /** Usage by project and user, for `perUser`. */
  projectUsers: ProjectUserFigures;
  fetch?: typeof fetch;
}

export interface SinkContext {
  store: Store;
  log: Logger;
  now: number;
  signal?: AbortSignal;
}

export interface SinkRunReport {
  /** Days whose every hour is ok: the ones delivered. */
  completeDays: string[];
  /** Days left for later: some hour not ok (or a project's day unreadable). */
  incompleteDays: string[];
  sent: number;
  accepted: number;
  /** Entries whose latest post was accepted with the same figures: not sent again. */
  unchanged: number;
  notAccepted: Array<Pick<Delivery, 'day' | 'project' | 'status' | 'httpStatus' | 'answer'>>;
  /** PERSEUS refused the token: the run stopped at the first such answer. */
  unauthorized: boolean;
}

/** The day's 24 hours all ok, and what stands behind them; null when some hour is not. */
function completeDay(day: string, ledger: ReadonlyMap<number, LedgerHour>): DayProvenance | null {
  const sources = new Set<string>();
  let estimatedHours = 0;
  const start = periodStart(day);
  for (let hour = start; hour < start + DAY_MS; hour += HOUR_MS) {
    const record = ledger.get(hour);
    if (record?.status !== 'ok') return null;
    sources.add(record.intensity.source);
    if (record.intensity.estimated) estimatedHours++;
  }
  return { intensitySources: [...sources].sort(), estimatedHours };
}

/** PROJECT day entries of `projects`; an unreadable one is left out (and its day waits). */
async function projectDays(
  store: Store,
  day: string,
  projects: string[],
): Promise<Array<DayEntry | null | UnreadableDataError>> {
  try {
    return await store.readDays('PROJECT', day, projects);
  } catch (err) {
    if (err instanceof PartialReadError) return err.results as Array<DayEntry | null | UnreadableDataError>;
    throw err;
  }
}

/**
 * Machine types by the key a day entry splits them under (`ARTEMIS_MATLAB` → `Artemis (Matlab)`),
 * so a partition is named as the MACHINE level names it.
 */
async function machineNamesByKey(store: Store): Promise<Map<string, string>> {
  const names = new Map<string, string>();
  for (const name of await store.listKeys('MACHINE'))
    if (!names.has(machineKey(name))) names.set(machineKey(name), name);
  return names;
}

/** The days a scheduled run looks at: the last `lookbackDays` before today, and every day not yet accepted. */
export function daysToDeliver(now: number, lookbackDays: number, deliveries: readonly Delivery[]): string[] {
  const today = Math.floor(now / DAY_MS) * DAY_MS;
  const days = new Set<string>();
  for (let back = lookbackDays; back >= 1; back--) days.add(utcDate(today - back * DAY_MS));
  for (const delivery of deliveries) if (delivery.status !== 'accepted') days.add(delivery.day);
  return [...days].filter((day) => periodStart(day) + DAY_MS <= now).sort();
}

/**
 * Delivers each complete day of `days` to PERSEUS: every mapped project's entries, each sent unless
 * its latest post was accepted with the same figures (same match key, so PERSEUS overwrites). What
 * was sent and the answer are recorded day by day. A refused token stops the run: every entry
 * would be refused the same way, and the next run (the next reconcile) tries again.
 */
export async function deliverDays(
  ctx: SinkContext,
  config: PerseusConfig,
  deps: PerseusDeps,
  days: readonly string[],
): Promise<SinkRunReport> {
  const report: SinkRunReport = {
    completeDays: [],
    incompleteDays: [],
    sent: 0,
    accepted: 0,
    unchanged: 0,
    notAccepted: [],
    unauthorized: false,
  };
  const previous = new Map((await deps.deliveries.read(PERSEUS_SINK)).map((d) => [d.key, d]));
  const ledgers = new Map<string, Map<number, LedgerHour>>();
  const projects = Object.keys(config.projects);
  const machineNames = await machineNamesByKey(ctx.store);
  for (const day of [...days].sort()) {
    const month = utcMonth(periodStart(day));
    if (!ledgers.has(month)) {
      const start = periodStart(month);
      ledgers.set(month, await ctx.store.readLedger(start, nextBucketStart('MONTH', start)));
    }
    const provenance = completeDay(day, ledgers.get(month)!);
    if (provenance === null) {
      report.incompleteDays.push(day);
      continue;
    }
    const entries = await projectDays(ctx.store, day, projects);
    const reports: UsageReport[] = [];
    for (const [i, project] of projects.entries()) {
      const entry = entries[i];
      if (entry instanceof UnreadableDataError) {
        ctx.log.warn('a project day cannot be read; it is delivered once it is re-ingested', {
          project,
          day,
        });
        continue;
      }
      const byUser = config.perUser ? await deps.projectUsers.readDay(day, project) : undefined;
      const sentBefore = [...previous.values()]
        .filter((d) => d.project === project && d.day === day)
        .map((d) => d.key);
      reports.push(
        ...reportsOfDay(config, { project, day, totals: entry?.totals ?? null, byUser }, provenance, {
          previousKeys: sentBefore,
          machineNames,
        }),
      );
    }
    if (entries.some((entry) => entry instanceof UnreadableDataError)) report.incompleteDays.push(day);
    else report.completeDays.push(day);
    const recorded = await sendAll(ctx, config, deps, reports, previous, report);
    await deps.deliveries.record(PERSEUS_SINK, recorded);
    for (const delivery of recorded) previous.set(delivery.key, delivery);
    if (report.unauthorized) break;
  }
  return report;
}

async function sendAll(
  ctx: SinkContext,
  config: PerseusConfig,
  deps: PerseusDeps,
  reports: readonly UsageReport[],
  previous: ReadonlyMap<string, Delivery>,
  report: SinkRunReport,
): Promise<Delivery[]> {
  const recorded: Delivery[] = [];
  for (const usage of reports) {
    const before = previous.get(usage.key);
    // Unchanged only when the latest post was accepted with these figures: a post that timed out
    // or was refused since may have left PERSEUS holding other figures, or none.
    if (before?.status === 'accepted' && before.acceptedSha256 === usage.bodySha256) {
      report.unchanged++;
      continue;
    }
    const outcome = await postUsageReport(
      { url: config.url, token: config.token, timeoutMs: config.timeoutMs, fetch: deps.fetch },
      usage.body,
      ctx.signal,
    );
    report.sent++;
    const accepted = outcome.status === 'accepted';
    recorded.push({
      key: usage.key,
      day: usage.day,
      project: usage.project,
      sentAt: new Date(ctx.now).toISOString(),
      ...outcome,
      value: usage.body.value,
      bodySha256: usage.bodySha256,
      acceptedSha256: accepted ? usage.bodySha256 : (before?.acceptedSha256 ?? null),
      attempts: (before?.attempts ?? 0) + 1,
    });
    if (accepted) {
      report.accepted++;
      continue;
    }
    report.notAccepted.push({ day: usage.day, project: usage.project, ...outcome });
    ctx.log.warn('PERSEUS did not accept a usage report; a later run sends it again', {
      day: usage.day,
      project: usage.project,
      status: outcome.status,
      httpStatus: outcome.httpStatus,
      answer: outcome.answer,
    });
    if (outcome.status === 'unauthorized') {
      ctx.log.error(
        'PERSEUS refused the token (sinks.perseus.token); nothing more is sent until the next run',
        {
          httpStatus: outcome.httpStatus,
        },
      );
      report.unauthorized = true;
      break;
    }
  }
  return recorded;
}

/** What a run's report says in the host's log and metrics (never the token). */
function runDetail(report: SinkRunReport): Record<string, unknown> {
  return {
    completeDays: report.completeDays.length,
    incompleteDays: report.incompleteDays.length,
    sent: report.sent,
    accepted: report.accepted,
    unchanged: report.unchanged,
    notAccepted: report.notAccepted.length,
    unauthorized: report.unauthorized,
  };
}

export interface PerseusPluginDeps {
  /** The delivery log and usage by project and user of the store the host runs the sink with. */
  capabilities: (store: Store) => Pick<PerseusDeps, 'deliveries' | 'projectUsers'>;
  fetch?: typeof fetch;
  after?: string;
  schedule?: string;
  timeoutMs?: number;
}

/**
 * The PERSEUS sink as a plugin (contract section 10): after each run of `after` (the reconcile,
 * which completes yesterday), delivers the complete days of the last `lookbackDays` and retries
 * every day not yet accepted.
 */
export function perseusSinkPlugin(deps: PerseusPluginDeps): ScheduledPlugin<PerseusConfig> {
  return {
    name: PERSEUS_SINK,
    configPath: 'sinks.perseus',
    configSchema: PerseusSchema,
    after: deps.after,
    schedule: deps.schedule,
    timeoutMs: deps.timeoutMs ?? 30 * 60_000,
    async run(ctx, config) {
      const now = ctx.clock.now();
      const sinkDeps = { ...deps.capabilities(ctx.store), fetch: deps.fetch };
      const days = daysToDeliver(now, config.lookbackDays, await sinkDeps.deliveries.read(PERSEUS_SINK));
      const report = await deliverDays(
        { store: ctx.store, log: ctx.log, now, signal: ctx.signal },
        config,
        sinkDeps,
        days,
      );
      return { ok: report.notAccepted.length === 0, detail: runDetail(report) };
    },
  };
}
