import { parseConfig } from '../../src/config';
import { demoIntensity, DEMO_LABELS, demoSource } from '../../src/demo/demo-source';
import { seedDemo } from '../../src/demo/seed';
import { DAY_MS, floorHour } from '../../src/domain/time';
import { ingestRange } from '../../src/ingest/run';
import { silentLogger } from '../../src/log';
import type { CpuSecondsSource, SourceHour } from '../../src/ingest/ports';
import { emptyRegistry } from '../../src/plugins/workspaces/registry';
import { openJsonStore } from '../../src/store/json';

/** A source whose Prometheus is down: every hour asked fails. */
const downSource: CpuSecondsSource = {
  async fetchHours(fromHour, toHour) {
    const hours = new Map<number, SourceHour>();
    for (let hour = fromHour; hour < toHour; hour += 3_600_000) {
      hours.set(hour, { status: 'failed', error: 'connect ECONNREFUSED 127.0.0.1:9090' });
    }
    return hours;
  },
};

/**
 * The demo's year up to `now`, through the real ingestion path, but with one whole UTC day when
 * Prometheus was down (`failedDay`, midnight): its hours are in the ledger as failed. `serve --demo`
 * on this dataDir then serves it as it is (the demo fills only hours the ledger has no record of).
 */
export async function seedDemoWithOutage(dataDir: string, failedDay: number, now: number): Promise<void> {
  const store = await openJsonStore({ dataDir, log: silentLogger });
  const { energy } = parseConfig({});
  const deps = {
    carbon: demoIntensity(),
    registry: emptyRegistry,
    store,
    energy,
    labels: DEMO_LABELS,
    stepHours: 24 * 7,
    now: () => now,
    log: silentLogger,
  };
  try {
    const daysBefore = Math.round((failedDay - (floorHour(now) - 365 * DAY_MS)) / DAY_MS);
    await seedDemo({ store, energy, log: silentLogger, now: failedDay, days: daysBefore });
    await ingestRange({ ...deps, source: downSource }, failedDay, failedDay + DAY_MS);
    await ingestRange({ ...deps, source: demoSource() }, failedDay + DAY_MS, floorHour(now));
  } finally {
    await store.close();
  }
}
