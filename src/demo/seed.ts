import type { EnergyConfig } from '../config';
import { LEVELS, type Level } from '../domain/levels';
import { DAY_MS, floorHour, HOUR_MS, utcDate } from '../domain/time';
import { contiguousRanges } from '../ingest/ledger-hours';
import { addReport, emptyReport, type IngestReport } from '../ingest/report';
import { ingestRange, type IngestDeps } from '../ingest/run';
import type { Logger } from '../log';
import { emptyRegistry } from '../plugins/workspaces/registry';
import { summariseDate } from '../plugins/summaries/summarise';
import type { Store, StoreWriter } from '../store/store';
import type { DailySummaryStore } from '../store/summaries';
import { DEMO_EMBODIED, DEMO_FLEET, DEMO_LABELS, demoIntensity, demoSource } from './demo-source';

/**
 * Whether the store holds the demo's data and nothing else: every machine type and project in it
 * is the demo fleet's (an empty store too). A store with a real fleet's figures is never touched.
 */
async function holdsOnlyDemo(store: Store): Promise<boolean> {
  const demo: Partial<Record<Level, ReadonlySet<string>>> = {
    MACHINE: new Set(DEMO_FLEET.map((vm) => vm.machine)),
    PROJECT: new Set(DEMO_FLEET.map((vm) => vm.project)),
  };
  for (const level of LEVELS) {
    const keys = await store.listKeys(level);
    const known = demo[level];
    if (known !== undefined && !keys.every((key) => known.has(key))) return false;
  }
  return true;
}

/**
 * Fills the demo's `days` up to the last whole hour with generated usage, through the same
 * ingestion path as Prometheus data: every hour the ledger has no record of, so a demo stopped
 * half-way, or started again days later, is completed (hours it recorded, failed ones too, stay as
 * they are). A store that holds anything but the demo is left alone: undefined.
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
  if (!(await holdsOnlyDemo(store))) {
    log.info('demo: the store holds other data than the demo; nothing generated');
    return undefined;
  }
  const endHour = floorHour(options.now);
  const fromHour = endHour - (options.days ?? 365) * 24 * HOUR_MS;
  const recorded = await store.readLedger(fromHour, endHour);
  const missing: number[] = [];
  for (let hour = fromHour; hour < endHour; hour += HOUR_MS) if (!recorded.has(hour)) missing.push(hour);
  const report = emptyReport();
  for (const [from, to] of contiguousRanges(missing)) {
    log.info('demo: generating usage', {
      from: new Date(from).toISOString(),
      to: new Date(to).toISOString(),
    });
    addReport(report, await ingestRange(demoIngestDeps(options), from, to));
  }
  return report;
}

function demoIngestDeps(options: Parameters<typeof seedDemo>[0]): IngestDeps {
  return {
    source: demoSource(),
    carbon: demoIntensity(),
    registry: emptyRegistry,
    store: options.store,
    writer: options.writer,
    energy: { ...options.energy, machines: { ...DEMO_EMBODIED, ...options.energy.machines } },
    labels: DEMO_LABELS,
    stepHours: 24 * 7,
    now: () => options.now,
    log: options.log.child({ demo: true }),
  };
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
