import { parseConfig } from '../../../src/config';
import { DEMO_LABELS } from '../../../src/demo/demo-source';
import { seedDemo } from '../../../src/demo/seed';
import { HOUR_MS } from '../../../src/domain/time';
import { ingestRange } from '../../../src/ingest/run';
import { silentLogger } from '../../../src/log';
import type { CpuSecondsSource, SourceHour } from '../../../src/ingest/ports';
import { emptyRegistry } from '../../../src/plugins/workspaces/registry';
import { openJsonStore } from '../../../src/store/json';
import type { Store } from '../../../src/store/store';
import { fakeCarbon, tempDirs } from '../../support/fake-ingest';

const dirs = tempDirs('cl-demo-seed-');
const { energy } = parseConfig({});
const NOW = Date.parse('2026-11-20T10:30:00Z');
const END = Date.parse('2026-11-20T10:00:00Z');
let store: Store;

beforeEach(async () => {
  store = await openJsonStore({ dataDir: dirs.make(), log: silentLogger });
});
afterEach(async () => {
  await store.close();
  dirs.cleanup();
});

const seed = (now: number, days: number) => seedDemo({ store, energy, log: silentLogger, now, days });

/** One hour of one VM, from a source that is not the demo's. */
function sourceOf(rows: (hour: number) => SourceHour): CpuSecondsSource {
  return {
    async fetchHours(from, to) {
      const hours = new Map<number, SourceHour>();
      for (let hour = from; hour < to; hour += HOUR_MS) hours.set(hour, rows(hour));
      return hours;
    },
  };
}

async function ingest(source: CpuSecondsSource, from: number, to: number) {
  await ingestRange(
    {
      source,
      carbon: fakeCarbon(),
      registry: emptyRegistry,
      store,
      energy,
      labels: DEMO_LABELS,
      stepHours: 24,
      now: () => NOW,
      log: silentLogger,
    },
    from,
    to,
  );
}

describe('serve --demo fills its store', () => {
  it('completes a demo stopped half-way, and one started again later, generating only the hours not recorded', async () => {
    // Stopped after its first day: the store holds the later day only.
    expect((await seed(NOW, 1))?.okHours).toBe(24);
    const days = await seed(NOW, 2);
    expect(days).toMatchObject({ hours: 24, okHours: 24 });
    const ledger = await store.readLedger(END - 48 * HOUR_MS, END);
    expect(ledger.size).toBe(48);
    expect([...ledger.values()].every((hour) => hour.status === 'ok')).toBe(true);

    // Nothing left to do: nothing generated. Five hours on, those five hours.
    expect(await seed(NOW, 2)).toMatchObject({ hours: 0 });
    expect(await seed(NOW + 5 * HOUR_MS, 2)).toMatchObject({ hours: 5 });
  });

  it('leaves the hours it recorded as failed failed: an outage is part of what it shows', async () => {
    const down = sourceOf(() => ({ status: 'failed', error: 'connect ECONNREFUSED' }));
    await ingest(down, END - 3 * HOUR_MS, END - 2 * HOUR_MS);
    expect(await seed(NOW, 1)).toMatchObject({ hours: 23 });
    const outage = await store.readLedger(END - 3 * HOUR_MS, END - 2 * HOUR_MS);
    expect([...outage.values()]).toEqual([expect.objectContaining({ status: 'failed' })]);
  });

  it('never writes into a store that holds anything but the demo', async () => {
    const real = sourceOf((hour) => ({
      status: 'ok',
      rows: [
        {
          hour,
          instance: 'node-1:9100',
          labels: {
            instance: 'node-1:9100',
            [DEMO_LABELS.machine]: 'Real Hardware',
            [DEMO_LABELS.project]: 'IDAaaS',
          },
          busyCpuSeconds: 60,
          idleCpuSeconds: 3540,
        },
      ],
    }));
    await ingest(real, END - HOUR_MS, END);
    expect(await seed(NOW, 1)).toBeUndefined();
    expect((await store.readLedger(END - 24 * HOUR_MS, END)).size).toBe(1);
  });
});
