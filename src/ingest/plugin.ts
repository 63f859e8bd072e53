import { z } from 'zod';
import {
  CarbonSchema,
  EnergySchema,
  PrometheusSchema,
  SourcesSchema,
  StoreSchema,
  WorkspacesSchema,
} from '../config';
import { floorHour, HOUR_MS, nextBucketStart, periodStart, utcMonth } from '../domain/time';
import type { PluginContext, RunReport, ScheduledPlugin } from '../plugins/host';
import {
  StoreLockedError,
  withWriter,
  type Store,
  type StoreWriter,
  type WriterOptions,
} from '../store/store';
import { contiguousRanges, failedHoursBefore } from './ledger-hours';
import { addReport, emptyReport } from './report';
import { ingestRange, type IngestDeps } from './run';
import { ingestDeps } from './wiring';

export const INGEST_PLUGIN = 'prometheus-ingest';

export const IngestPluginConfigSchema = z.object({
  prometheus: PrometheusSchema,
  workspaces: WorkspacesSchema,
  energy: EnergySchema,
  carbon: CarbonSchema,
  store: StoreSchema,
  sources: SourcesSchema.prefault({}),
});
export type IngestPluginConfig = z.infer<typeof IngestPluginConfigSchema>;

/** Builds what one run ingests with; tests hand in fake sources. */
export type IngestDepsFactory = (config: IngestPluginConfig, ctx: PluginContext) => Promise<IngestDeps>;

export const configuredIngestDeps: IngestDepsFactory = (config, ctx) =>
  ingestDeps(config, ctx.store, ctx.log, {
    now: () => ctx.clock.now(),
    signal: ctx.signal,
    report: ctx.report,
  });

/** What the scheduled ingestion plugins share. */
export interface IngestRunOptions {
  /** Cron in UTC. */
  schedule: string;
  timeoutMs?: number;
  makeDeps?: IngestDepsFactory;
  /** How a run waits for the store's writer; by default it does not (a held writer skips the run). */
  lock?: Pick<WriterOptions, 'waitMs' | 'pollMs'>;
}

/** The newest ok hour in the ledger that has ended by `now`, looking back at most `months` months. */
export async function findLastOkHour(store: Store, now: number, months = 13): Promise<number | undefined> {
  let monthStart = periodStart(utcMonth(now));
  for (let i = 0; i < months; i++) {
    const ledger = await store.readLedger(monthStart, nextBucketStart('MONTH', monthStart));
    let newest: number | undefined;
    for (const [hour, record] of ledger) {
      if (record.status === 'ok' && hour + HOUR_MS <= now && (newest === undefined || hour > newest)) {
        newest = hour;
      }
    }
    if (newest !== undefined) return newest;
    monthStart = periodStart(utcMonth(monthStart - 1));
  }
  return undefined;
}

/**
 * Runs `fn` holding the store's writer. A writer held elsewhere (the `ingest` command, another
 * server on the same store, the other plugin) skips the run: ok false, with why.
 */
export async function withRunLock(
  ctx: PluginContext,
  purpose: string,
  lock: IngestRunOptions['lock'],
  fn: (writer: StoreWriter) => Promise<RunReport>,
): Promise<RunReport> {
  try {
    return await withWriter(ctx.store, { ...lock, purpose, signal: ctx.signal }, fn);
  } catch (err) {
    if (!(err instanceof StoreLockedError)) throw err;
    ctx.log.warn('ingest lock held elsewhere; this run is skipped', { reason: err.message });
    return {
      ok: false,
      detail: { skipped: 'locked', reason: err.message, ...(err.holder ? { holder: err.holder } : {}) },
    };
  }
}

const isoOrNull = (ms: number | undefined) => (ms === undefined ? null : new Date(ms).toISOString());

/**
 * The hourly ingest: every whole hour since the last ok one, up to the last complete hour, oldest
 * first (so the last ok hour only moves forward over a gap). On an empty store it starts
 * `firstRunHours` back; a longer backfill is the `ingest` command's job. One run ingests at most
 * `maxHoursPerRun` hours, so it holds the ingest lock for a bounded time; a longer gap is caught up
 * over the following runs. Memory stays bounded by `prometheus.chunkHours` whatever the gap.
 */
export function scheduledIngestPlugin(
  options: IngestRunOptions & { firstRunHours?: number; maxHoursPerRun?: number },
): ScheduledPlugin<IngestPluginConfig> {
  const firstRunHours = options.firstRunHours ?? 24;
  const maxHoursPerRun = options.maxHoursPerRun ?? 31 * 24;
  for (const [name, value] of Object.entries({ firstRunHours, maxHoursPerRun })) {
    if (!Number.isInteger(value) || value <= 0) throw new Error(`${name} must be a positive whole number`);
  }
  const makeDeps = options.makeDeps ?? configuredIngestDeps;
  return {
    name: INGEST_PLUGIN,
    configSchema: IngestPluginConfigSchema,
    schedule: options.schedule,
    timeoutMs: options.timeoutMs ?? 30 * 60_000,
    run: (ctx, config) =>
      withRunLock(ctx, INGEST_PLUGIN, options.lock, async (writer) => {
        const now = ctx.clock.now();
        const endHour = floorHour(now);
        const lastOk = await findLastOkHour(ctx.store, now);
        const fromHour = lastOk === undefined ? endHour - firstRunHours * HOUR_MS : lastOk + HOUR_MS;
        if (lastOk === undefined) {
          ctx.log.info(
            'no ok hour in the ledger; starting firstRunHours back (backfill with `carbonledger ingest`)',
            {
              firstRunHours,
            },
          );
        }
        // Failed hours behind the newest ok one (a catch-up whose first steps failed) are retried by
        // every run, as far back as the reconcile looks, not left to the reconcile alone.
        const retried = await failedHoursBefore(ctx.store, endHour, fromHour);
        if (fromHour >= endHour && retried.length === 0) {
          return { ok: true, detail: { hours: 0, lastOkHour: isoOrNull(lastOk) } };
        }
        const toHour = Math.min(endHour, fromHour + maxHoursPerRun * HOUR_MS);
        const remainingHours = (endHour - toHour) / HOUR_MS;
        if (remainingHours > 0) {
          ctx.log.info('catching up; the rest follows in the next runs', {
            from: new Date(fromHour).toISOString(),
            to: new Date(toHour).toISOString(),
            remainingHours,
          });
        }
        const deps = { ...(await makeDeps(config, ctx)), writer };
        const total = emptyReport();
        // New hours first: retries of a Prometheus that keeps timing out must not hold them back.
        if (fromHour < toHour) addReport(total, await ingestRange(deps, fromHour, toHour));
        for (const [from, to] of contiguousRanges(retried)) {
          addReport(total, await ingestRange(deps, from, to));
        }
        return {
          ok: total.failed.length === 0,
          detail: {
            from: new Date(fromHour).toISOString(),
            to: new Date(toHour).toISOString(),
            retriedFailedHours: retried.length,
            okHours: total.okHours,
            failedHours: total.failed.length,
            noDataHours: total.noDataHours.length,
            keptHours: total.kept.length,
            remainingHours,
            lastOkHour: isoOrNull(await findLastOkHour(ctx.store, now)),
          },
        };
      }),
  };
}
