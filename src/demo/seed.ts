import type { EnergyConfig } from '../config';
import { LEVELS } from '../domain/levels';
import { DAY_MS, floorHour, HOUR_MS, utcDate } from '../domain/time';
import { ingestRange, type IngestReport } from '../ingest/run';
import type { Logger } from '../log';
import { emptyRegistry } from '../plugins/workspaces/registry';
import { summariseDate } from '../plugins/summaries/summarise';
import type { Store, StoreWriter } from '../store/store';
import type { DailySummaryStore } from '../store/summaries';
import { DEMO_EMBODIED, DEMO_LABELS, demoIntensity, demoSource } from './demo-source';

async function isEmpty(store: Store): Promise<boolean> {
  for (const level of LEVELS) if ((await store.listKeys(level)).length > 0) return false;
  return true;
}

/**
 * Fills an empty store with `days` of generated usage up to the last whole hour, through the same
 * ingestion path as Prometheus data. A store that holds anything is left alone.
 */
export async function seedDemo(options: {
  store: Store;
  /** The store's writer, when the caller holds it; otherwise the ingestion takes it. */
  writer?: StoreWriter;
  energy: EnergyConfig;
  log: Logger;
  now: number;
  days?: number;
}): Promise<IngestReport | undefined> {
  const { store, log } = options;
  if (!(await isEmpty(store))) {
    log.info('demo: the store already holds data; nothing generated');
    return undefined;
  }
  const endHour = floorHour(options.now);
  const fromHour = endHour - (options.days ?? 365) * 24 * HOUR_MS;
  log.info('demo: generating usage', {
    from: new Date(fromHour).toISOString(),
    to: new Date(endHour).toISOString(),
  });
  return ingestRange(
    {
      source: demoSource(),
      carbon: demoIntensity(),
      registry: emptyRegistry,
      store,
      writer: options.writer,
      energy: { ...options.energy, machines: { ...DEMO_EMBODIED, ...options.energy.machines } },
      labels: DEMO_LABELS,
      stepHours: 24 * 7,
      now: () => options.now,
      log: log.child({ demo: true }),
    },
    fromHour,
    endHour,
  );
}

/** Summarises the demo's last `days` whole days, so `dailySummaries` shows figures at once. */
export async function summariseDemoDays(
  store: Store,
  summaries: Pick<DailySummaryStore, 'replaceDay'>,
  now: number,
  days = 30,
): Promise<void> {
  const today = Math.floor(now / DAY_MS) * DAY_MS;
  for (let day = today - days * DAY_MS; day < today; day += DAY_MS) {
    await summariseDate(store, summaries, utcDate(day));
  }
}
