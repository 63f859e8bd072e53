import { z } from 'zod';
import { CarbonSchema, EnergySchema, PrometheusSchema, StoreSchema, WorkspacesSchema } from '../config';
import { floorHour, HOUR_MS, periodStart, utcMonth } from '../domain/time';
import type { ScheduledPlugin } from '../plugins/host';
import type { Store } from '../store/store';
import { ingestRange } from './run';
import { ingestDeps } from './wiring';

export const IngestPluginConfigSchema = z.object({
  prometheus: PrometheusSchema,
  workspaces: WorkspacesSchema,
  energy: EnergySchema,
  carbon: CarbonSchema,
  store: StoreSchema,
});
export type IngestPluginConfig = z.infer<typeof IngestPluginConfigSchema>;

/** The newest ok hour in the ledger, looking back at most `months` months from `now`. */
export async function findLastOkHour(store: Store, now: number, months = 13): Promise<number | undefined> {
  let monthStart = periodStart(utcMonth(now));
  for (let i = 0; i < months; i++) {
    const ledger = await store.readLedgerMonth(utcMonth(monthStart));
    let newest: number | undefined;
    for (const [hour, record] of ledger) {
      if (record.status === 'ok' && hour < now && (newest === undefined || hour > newest)) newest = hour;
    }
    if (newest !== undefined) return newest;
    monthStart = periodStart(utcMonth(monthStart - 1));
  }
  return undefined;
}

/**
 * The hourly ingest: every whole hour since the last ok one, up to the last complete hour. On an
 * empty store it starts `firstRunHours` back; a longer backfill is the `ingest` command's job.
 */
export function scheduledIngestPlugin(options: {
  schedule: string;
  timeoutMs?: number;
  firstRunHours?: number;
}): ScheduledPlugin<IngestPluginConfig> {
  const firstRunHours = options.firstRunHours ?? 24;
  return {
    name: 'prometheus-ingest',
    configSchema: IngestPluginConfigSchema,
    schedule: options.schedule,
    timeoutMs: options.timeoutMs ?? 30 * 60_000,
    async run(ctx, config) {
      const now = ctx.clock.now();
      const endHour = floorHour(now);
      const lastOk = await findLastOkHour(ctx.store, now);
      const fromHour = lastOk === undefined ? endHour - firstRunHours * HOUR_MS : lastOk + HOUR_MS;
      if (fromHour >= endHour) return { ok: true, detail: { hours: 0 } };
      const deps = await ingestDeps(config, ctx.store, ctx.log, { now: ctx.clock.now, signal: ctx.signal });
      const report = await ingestRange(deps, fromHour, endHour);
      return {
        ok: report.failed.length === 0,
        detail: {
          from: new Date(fromHour).toISOString(),
          to: new Date(endHour).toISOString(),
          okHours: report.okHours,
          failedHours: report.failed.length,
        },
      };
    },
  };
}
