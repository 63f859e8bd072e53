import { DAY_MS, floorHour, HOUR_MS } from '../domain/time';
import type { LedgerHour } from '../domain/usage';
import type { ScheduledPlugin } from '../plugins/host';
import {
  configuredIngestDeps,
  findLastOkHour,
  IngestPluginConfigSchema,
  withRunLock,
  type IngestPluginConfig,
  type IngestRunOptions,
} from './plugin';
import { contiguousRanges, RETRY_LOOKBACK_DAYS } from './ledger-hours';
import { addReport, emptyReport } from './report';
import { ingestRange } from './run';

export const RECONCILE_PLUGIN = 'reconcile';

export interface ReconcilePlan {
  /** Contiguous [from, to) runs of hours to ingest, ascending. */
  ranges: Array<[number, number]>;
  /** The UTC day before `now`'s, [from, to). */
  yesterday: [number, number];
  /** Hours in the window the ledger holds as failed. */
  failedHours: number[];
  /** Ok hours in the window whose carbon intensity was a fallback. */
  estimatedHours: number[];
}

/**
 * What the daily reconcile re-ingests (pure): the whole of yesterday (UTC), so late scrapes and
 * forecast-based intensities settle; and, within the last `lookbackDays` days of complete hours,
 * every hour the ledger holds as failed and every ok hour whose intensity was estimated. Older
 * hours are left alone.
 */
export function planReconcile(
  ledger: ReadonlyMap<number, LedgerHour>,
  now: number,
  lookbackDays = RETRY_LOOKBACK_DAYS,
): ReconcilePlan {
  const endHour = floorHour(now);
  const windowStart = endHour - lookbackDays * DAY_MS;
  const today = Math.floor(now / DAY_MS) * DAY_MS;
  const yesterday: [number, number] = [today - DAY_MS, today];
  const failedHours: number[] = [];
  const estimatedHours: number[] = [];
  for (const [hour, record] of ledger) {
    if (hour < windowStart || hour >= endHour) continue;
    if (record.status === 'failed') failedHours.push(hour);
    else if (record.intensity.estimated) estimatedHours.push(hour);
  }
  failedHours.sort((a, b) => a - b);
  estimatedHours.sort((a, b) => a - b);
  const hours = [...failedHours, ...estimatedHours];
  for (let hour = yesterday[0]; hour < yesterday[1]; hour += HOUR_MS) hours.push(hour);
  return { ranges: contiguousRanges(hours), yesterday, failedHours, estimatedHours };
}

/**
 * The daily reconcile (contract section 5, `schedule.reconcile`): re-ingests yesterday and retries
 * the failed and carbon-estimated hours of the last `lookbackDays` days, each contiguous run of
 * hours as one range (fetched in `prometheus.chunkHours` steps). Estimated intensities are never
 * cached, so re-ingesting those hours asks the carbon source again.
 */
export function reconcilePlugin(
  options: IngestRunOptions & { lookbackDays?: number },
): ScheduledPlugin<IngestPluginConfig> {
  const lookbackDays = options.lookbackDays ?? RETRY_LOOKBACK_DAYS;
  if (!Number.isInteger(lookbackDays) || lookbackDays <= 0) {
    throw new Error('lookbackDays must be a positive whole number');
  }
  const makeDeps = options.makeDeps ?? configuredIngestDeps;
  return {
    name: RECONCILE_PLUGIN,
    configSchema: IngestPluginConfigSchema,
    schedule: options.schedule,
    timeoutMs: options.timeoutMs ?? 60 * 60_000,
    run: (ctx, config) =>
      withRunLock(ctx, RECONCILE_PLUGIN, options.lock, async (writer) => {
        const now = ctx.clock.now();
        const endHour = floorHour(now);
        const ledger = await ctx.store.readLedger(endHour - lookbackDays * DAY_MS, endHour);
        const plan = planReconcile(ledger, now, lookbackDays);
        const total = emptyReport();
        if (plan.ranges.length > 0) {
          const deps = { ...(await makeDeps(config, ctx)), writer };
          for (const [from, to] of plan.ranges) {
            addReport(total, await ingestRange(deps, from, to));
          }
        }
        const lastOk = await findLastOkHour(ctx.store, now);
        return {
          ok: total.failed.length === 0,
          detail: {
            yesterday: new Date(plan.yesterday[0]).toISOString().slice(0, 10),
            ranges: plan.ranges.length,
            retriedFailedHours: plan.failedHours.length,
            refetchedEstimatedHours: plan.estimatedHours.length,
            okHours: total.okHours,
            failedHours: total.failed.length,
            noDataHours: total.noDataHours.length,
            keptHours: total.kept.length,
            lastOkHour: lastOk === undefined ? null : new Date(lastOk).toISOString(),
          },
        };
      }),
  };
}
