import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseConfig } from '../../../src/config';
import type { HourIntensity, LedgerHour } from '../../../src/domain/usage';
import { ingestDeps } from '../../../src/ingest/wiring';
import { silentLogger } from '../../../src/log';
import { keepingRecordedIntensities } from '../../../src/ingest/recorded-intensities';
import type { CarbonIntensitySource } from '../../../src/ingest/ports';
import type { Store } from '../../../src/store/store';

const at = (iso: string) => Date.parse(iso);
const measured = (gPerKwh: number): HourIntensity => ({
  gPerKwh,
  estimated: false,
  source: 'carbon-intensity-api',
});
const FALLBACK: HourIntensity = { gPerKwh: 200, estimated: true, source: 'carbon-intensity-api (fallback)' };
const ok = (intensity: HourIntensity): LedgerHour => ({ status: 'ok', intensity, instanceHours: { M: 1 } });

/** The carbon API down: every hour falls back. */
const down: CarbonIntensitySource = {
  async intensities(from, to) {
    const out = new Map<number, HourIntensity>();
    for (let hour = from; hour < to; hour += 3_600_000) out.set(hour, FALLBACK);
    return out;
  },
};

function storeWithLedger(ledger: Map<number, LedgerHour>): Store & { ledgerReads: number } {
  const store = {
    ledgerReads: 0,
    async readLedger(from: number, to: number) {
      store.ledgerReads++;
      return new Map([...ledger].filter(([hour]) => hour >= from && hour < to));
    },
  };
  return store as unknown as Store & { ledgerReads: number };
}

describe('keepingRecordedIntensities', () => {
  it('keeps the measured intensity the ledger records for an hour the source could only estimate', async () => {
    const store = storeWithLedger(
      new Map<number, LedgerHour>([
        [at('2026-11-26T05:00Z'), ok(measured(205))],
        // The same fallback before: nothing better to keep; failed: nothing recorded to keep.
        [at('2026-11-26T06:00Z'), ok(FALLBACK)],
        // Estimated from one half hour the API did answer: still better than the fallback.
        [at('2026-11-26T08:00Z'), ok({ ...measured(190), estimated: true })],
        [
          at('2026-11-26T07:00Z'),
          { status: 'failed', attempts: 1, error: '503', lastAttemptAt: '2026-11-27T02:00:00Z' },
        ],
      ]),
    );
    const intensities = await keepingRecordedIntensities(down, store).intensities(
      at('2026-11-26T05:00Z'),
      at('2026-11-26T09:00Z'),
    );
    expect(intensities).toEqual(
      new Map([
        [at('2026-11-26T05:00Z'), measured(205)],
        [at('2026-11-26T06:00Z'), FALLBACK],
        [at('2026-11-26T07:00Z'), FALLBACK],
        [at('2026-11-26T08:00Z'), { ...measured(190), estimated: true }],
      ]),
    );
  });

  it('reads no ledger when the source measured every hour', async () => {
    const store = storeWithLedger(new Map());
    const up: CarbonIntensitySource = {
      intensities: async (from) => new Map([[from, measured(150)]]),
    };
    const intensities = await keepingRecordedIntensities(up, store).intensities(
      at('2026-11-26T05:00Z'),
      at('2026-11-26T06:00Z'),
    );
    expect(intensities).toEqual(new Map([[at('2026-11-26T05:00Z'), measured(150)]]));
    expect(store.ledgerReads).toBe(0);
  });

  it("is how ingestion's carbon source is wired", async () => {
    const store = storeWithLedger(
      new Map<number, LedgerHour>([[at('2026-11-26T05:00Z'), ok(measured(205))]]),
    );
    // Nothing listens on port 9: every hour of the API falls back.
    const dataDir = mkdtempSync(join(tmpdir(), 'cl-recorded-intensities-'));
    const config = parseConfig({
      carbon: { source: 'carbon-intensity-api', url: 'http://127.0.0.1:9', fallbackGPerKwh: 123 },
      store: { dataDir },
    });
    const deps = await ingestDeps(config, store, silentLogger, { now: () => at('2026-11-27T00:00Z') });
    const intensities = await deps.carbon
      .intensities(at('2026-11-26T05:00Z'), at('2026-11-26T07:00Z'))
      .finally(() => rmSync(dataDir, { recursive: true, force: true }));
    expect(intensities.get(at('2026-11-26T05:00Z'))).toEqual(measured(205));
    expect(intensities.get(at('2026-11-26T06:00Z'))).toMatchObject({ gPerKwh: 123, estimated: true });
  });
});
