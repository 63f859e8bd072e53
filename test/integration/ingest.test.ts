import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { main } from '../../src/cli';
import { parseConfig } from '../../src/config';
import { LEVELS, type Level } from '../../src/domain/levels';
import { DAY_MS, HOUR_MS, hourLabel, periodStart, utcDate } from '../../src/domain/time';
import type { Figures } from '../../src/domain/figures';
import { ingestRange } from '../../src/ingest/run';
import { ingestDeps } from '../../src/ingest/wiring';
import { silentLogger } from '../../src/log';
import { openJsonStore } from '../../src/store/json';
import { expectedByLevel, expectedInstanceHours, type ExpectedByLevel } from '../support/lab/expected';
import { startLab, type Lab } from '../support/lab/prometheus-lab';
import { readDayEntryFile, snapshotFiles, type StoredSix } from '../support/store-files';
import { ledgerMonth } from '../support/describe-store';

const G_PER_KWH = 250;
const ENERGY = {
  default: { busyWattsPerCore: 12, idleWattsPerCore: 1 },
  machines: { 'Artemis (Matlab)': { busyWattsPerCore: 20 } },
  pue: 1.2,
};

const SIX: Array<[keyof StoredSix, keyof Figures]> = [
  ['busy_cpu_seconds_total', 'busyCpuSeconds'],
  ['idle_cpu_seconds_total', 'idleCpuSeconds'],
  ['busy_kwh', 'busyKwh'],
  ['idle_kwh', 'idleKwh'],
  ['busy_gCo2eq', 'busyGco2eq'],
  ['idle_gCo2eq', 'idleGco2eq'],
];

let lab: Lab;
let expected: ExpectedByLevel;
let fromIso: string;
let toIso: string;
const scratch: string[] = [];

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'cl-ingest-'));
  scratch.push(dir);
  return dir;
}

function writeConfig(dataDir: string, overrides: Record<string, unknown> = {}): string {
  const file = join(dataDir, '..', `${dataDir.split('/').pop()}.config.json`);
  writeFileSync(
    file,
    JSON.stringify({
      prometheus: { url: lab.url, chunkHours: 12, attempts: 1, timeoutMs: 10_000 },
      workspaces: { file: lab.registryFile },
      energy: ENERGY,
      carbon: { source: 'static', gPerKwh: G_PER_KWH },
      store: { kind: 'json', dataDir },
      ...overrides,
    }),
  );
  return file;
}

/** Relative tolerance, with a floor of a hundredth of a CPU-second's worth so near-zero figures compare. */
function expectWithin(actual: number | 'failed', want: number, tolerance: number, what: string): void {
  if (actual === 'failed') throw new Error(`${what}: stored "failed", expected ${want}`);
  const allowed = Math.abs(want) * tolerance + 1e-2 * (Math.abs(want) > 0 ? 1e-6 : 1);
  if (Math.abs(actual - want) > allowed) {
    throw new Error(`${what}: stored ${actual}, expected ${want} ± ${tolerance * 100}%`);
  }
}

beforeAll(async () => {
  lab = await startLab();
  const energy = parseConfig({ energy: ENERGY }).energy;
  expected = expectedByLevel(expectedInstanceHours(lab.spec), energy, G_PER_KWH);
  fromIso = `${lab.spec.days[0]}T00:00:00Z`;
  toIso = new Date(periodStart(lab.spec.days[lab.spec.days.length - 1]) + DAY_MS).toISOString();
});

afterAll(async () => {
  await lab?.stop();
  for (const dir of scratch) rmSync(dir, { recursive: true, force: true });
});

describe('ingest from a real Prometheus', () => {
  let dataDir: string;
  let cleanStore: Map<string, string>;

  beforeAll(async () => {
    dataDir = tempDir();
    expect(await main(['ingest', '--from', fromIso, '--to', toIso, '--config', writeConfig(dataDir)])).toBe(
      0,
    );
    cleanStore = await snapshotFiles(dataDir, 'usage');
  });

  it.each(LEVELS)(
    'stores every %s key, hour and day within 2 %% / 1 %% of the generator',
    async (level: Level) => {
      const from = Date.parse(fromIso);
      const to = Date.parse(toIso);
      const keys = [...expected[level].keys()];
      expect(keys.length).toBeGreaterThan(0);
      let hoursChecked = 0;
      for (const key of keys) {
        const byHour = expected[level].get(key)!;
        for (let day = from; day < to; day += DAY_MS) {
          const date = utcDate(day);
          const wantHours = [...byHour.entries()].filter(([h]) => h >= day && h < day + DAY_MS);
          const stored = await readDayEntryFile(dataDir, level, key, date);
          if (wantHours.length === 0) {
            expect(stored).toBeUndefined();
            continue;
          }
          expect(stored).toBeDefined();
          const entry = stored!;
          expect(entry.date).toBe(`${date.slice(8, 10)}_${date.slice(5, 7)}_${date.slice(0, 4)}`);
          expect(Object.keys(entry)[0]).toBe(
            {
              PROJECT: 'cloud_project_name',
              EXPERIMENT: 'experiment',
              MACHINE: 'machine_name',
              USER: 'user',
              INSTANCE: 'instance',
            }[level],
          );
          const storedLabels = Object.keys(entry.timeseries)
            .filter((k) => k !== 'totals')
            .sort();
          expect(storedLabels).toEqual(wantHours.map(([h]) => hourLabel(h)).sort());
          const dayTotal = {
            all: {} as Record<string, number>,
            byMachine: {} as Record<string, Record<string, number>>,
          };
          for (const [hour, want] of wantHours) {
            const bucket = entry.timeseries[hourLabel(hour)];
            const where = `${level} ${key} ${new Date(hour).toISOString()}`;
            for (const [storedField, field] of SIX) {
              expectWithin(bucket.all[storedField], want.all[field], 0.02, `${where} all.${storedField}`);
              dayTotal.all[field] = (dayTotal.all[field] ?? 0) + want.all[field];
            }
            expect(
              Object.keys(bucket)
                .filter((k) => k !== 'all')
                .sort(),
            ).toEqual(Object.keys(want.byMachine).sort());
            for (const [machine, figures] of Object.entries(want.byMachine)) {
              for (const [storedField, field] of SIX) {
                expectWithin(
                  bucket[machine][storedField],
                  figures[field],
                  0.02,
                  `${where} ${machine}.${storedField}`,
                );
                dayTotal.byMachine[machine] ??= {};
                dayTotal.byMachine[machine][field] =
                  (dayTotal.byMachine[machine][field] ?? 0) + figures[field];
              }
            }
            hoursChecked++;
          }
          for (const [storedField, field] of SIX) {
            expectWithin(
              entry.timeseries.totals.all[storedField],
              dayTotal.all[field],
              0.01,
              `${level} ${key} ${date} totals`,
            );
            for (const machine of Object.keys(dayTotal.byMachine)) {
              expectWithin(
                entry.timeseries.totals[machine][storedField],
                dayTotal.byMachine[machine][field],
                0.01,
                `${level} ${key} ${date} totals.${machine}`,
              );
            }
          }
        }
      }
      expect(hoursChecked).toBeGreaterThan(24);
    },
  );

  it('records every hour as ok in the ledger, with the intensity used', async () => {
    const store = await openJsonStore({ dataDir });
    const ledger = await ledgerMonth(store, lab.spec.days[0].slice(0, 7));
    for (let hour = Date.parse(fromIso); hour < Date.parse(toIso); hour += HOUR_MS) {
      expect(ledger.get(hour)).toMatchObject({
        status: 'ok',
        intensity: { gPerKwh: G_PER_KWH, estimated: false },
      });
    }
    await store.close();
  });

  it('is idempotent: ingesting the same hours again leaves every usage file byte-identical', async () => {
    expect(await main(['ingest', '--from', fromIso, '--to', toIso, '--config', writeConfig(dataDir)])).toBe(
      0,
    );
    expect(await snapshotFiles(dataDir, 'usage')).toEqual(cleanStore);
  });

  it('keeps good figures when a re-ingest of ok hours fails (exit 3), and records the attempt', async () => {
    await lab.pause();
    try {
      expect(await main(['ingest', '--from', fromIso, '--to', toIso, '--config', writeConfig(dataDir)])).toBe(
        3,
      );
    } finally {
      await lab.resume();
    }
    expect(await snapshotFiles(dataDir, 'usage')).toEqual(cleanStore);
    const store = await openJsonStore({ dataDir });
    const record = (await ledgerMonth(store, lab.spec.days[0].slice(0, 7))).get(Date.parse(fromIso));
    expect(record).toMatchObject({ status: 'ok', failedAttempts: 1 });
    await store.close();
  });

  it('stores hours as failed when Prometheus stops mid-range, damages nothing stored, and recovers exactly', async () => {
    const recovering = tempDir();
    const config = parseConfig(JSON.parse(readFileSync(writeConfig(recovering), 'utf8')));
    const store = await openJsonStore({ dataDir: recovering });
    const deps = await ingestDeps(config, store, silentLogger, { now: Date.now });
    let steps = 0;
    const stopAfterFirstStep = {
      async fetchHours(from: number, to: number, signal?: AbortSignal) {
        if (steps++ === 1) await lab.pause();
        return deps.source.fetchHours(from, to, signal);
      },
    };
    try {
      // A budget that lets the first step go the whole 12 hours of prometheus.chunkHours.
      const report = await ingestRange(
        { ...deps, source: stopAfterFirstStep, stepInstanceHours: 24_000 },
        Date.parse(fromIso),
        Date.parse(toIso),
      );
      expect(report.okHours).toBe(12);
      expect(report.failed.length).toBe(report.hours - 12);
      expect(report.failed[0].error).toMatch(/refused the connection/);
    } finally {
      await lab.resume();
    }

    // The first 12 hours hold figures; every later hour holds "failed" for every known key.
    const project = [...expected.PROJECT.keys()][0];
    const firstDay = await readDayEntryFile(recovering, 'PROJECT', project, lab.spec.days[0]);
    expect(firstDay!.timeseries['11:00'].all.busy_kwh).toEqual(expect.any(Number));
    for (const field of SIX.map(([stored]) => stored)) {
      expect(firstDay!.timeseries['12:00'].all[field]).toBe('failed');
    }
    expect(firstDay!.timeseries.totals.all.busy_kwh).toBeCloseTo(
      [...Array(12).keys()].reduce(
        (sum, h) =>
          sum + (firstDay!.timeseries[`${String(h).padStart(2, '0')}:00`]?.all.busy_kwh as number) || sum,
        0,
      ),
      9,
    );
    const ledger = await ledgerMonth(store, lab.spec.days[0].slice(0, 7));
    expect(ledger.get(Date.parse(fromIso) + 12 * HOUR_MS)).toMatchObject({ status: 'failed', attempts: 1 });
    await store.close();

    // A later run (Prometheus back) replaces the markers: the store equals an uninterrupted run's.
    expect(
      await main(['ingest', '--from', fromIso, '--to', toIso, '--config', writeConfig(recovering)]),
    ).toBe(0);
    expect(await snapshotFiles(recovering, 'usage')).toEqual(cleanStore);
  });

  it('exits 2 naming the problem for bad arguments and bad config', async () => {
    const errors: string[] = [];
    const spy = jest
      .spyOn(process.stderr, 'write')
      .mockImplementation((chunk) => (errors.push(String(chunk)), true));
    try {
      expect(await main(['ingest', '--from', 'yesterday', '--to', toIso])).toBe(2);
      expect(await main(['ingest', '--from', toIso, '--to', fromIso])).toBe(2);
      const bad = join(tempDir(), 'bad.json');
      writeFileSync(bad, JSON.stringify({ energy: { pue: 0.5 } }));
      expect(await main(['ingest', '--from', fromIso, '--to', toIso, '--config', bad])).toBe(2);
      expect(await main(['ingest', '--frm', fromIso])).toBe(2);
      expect(await main(['ingest', '--from', '2025-02-30T00:00:00Z', '--to', toIso])).toBe(2);
      // Far ahead, so no turn of the hour while the test runs can make it acceptable.
      const nextHour = '2999-01-01T00:00:00Z';
      expect(
        await main(['ingest', '--from', fromIso, '--to', nextHour, '--config', writeConfig(dataDir)]),
      ).toBe(2);
    } finally {
      spy.mockRestore();
    }
    expect(errors.join('')).toMatch(/--from: "yesterday" is not an ISO-8601 date-time/);
    expect(errors.join('')).toMatch(/--from: "2025-02-30T00:00:00Z" is not an ISO-8601 date-time from 1970/);
    expect(errors.join('')).toMatch(/--from must be before --to/);
    expect(errors.join('')).toMatch(/energy\.pue: expected a number from 1 to 10/);
    expect(errors.join('')).toMatch(/frm/);
    expect(errors.join('')).toMatch(
      /--to: .* is after the current hour began .*; an hour can be ingested once it is over/,
    );
  });
});
