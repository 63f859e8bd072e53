/**
 * Fakes for driving the scheduled ingestion plugins: a CPU-seconds source and a carbon source that
 * record what they were asked, and a deps factory wiring them to the run's store, clock and signal.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HOUR_MS } from '../../src/domain/time';
import type { HourIntensity, LedgerHour } from '../../src/domain/usage';
import {
  IngestPluginConfigSchema,
  type IngestDepsFactory,
  type IngestPluginConfig,
} from '../../src/ingest/plugin';
import type { CarbonIntensitySource } from '../../src/ingest/ports';
import type { CpuSecondsSource, SourceHour } from '../../src/ingest/ports';
import { emptyRegistry } from '../../src/plugins/workspaces/registry';
import type { Store } from '../../src/store/store';
import { parseConfig } from '../../src/config';
import type { IngestDeps } from '../../src/ingest/run';
import { silentLogger } from '../../src/log';
import { ledgerMonth } from './describe-store';

export interface FakeCpuSource extends CpuSecondsSource {
  /** Every [from, to) asked for, in order. */
  calls: Array<[number, number]>;
  /** Hours answered failed. */
  failing: Set<number>;
  /** Hours answered ok with no series (a Prometheus that lost its data). */
  emptied: Set<number>;
  /** When set, each fetch waits for it (or for the run's abort). */
  gate?: Promise<void>;
  /** Hours asked for, over every call. */
  hoursAsked(): number[];
}

/** One instance, `i-1`, busy for the whole of every hour it is asked for, unless the hour is failing. */
export function fakeCpuSource(): FakeCpuSource {
  const source: FakeCpuSource = {
    calls: [],
    failing: new Set(),
    emptied: new Set(),
    hoursAsked: () => source.calls.flatMap(([from, to]) => hoursIn(from, to)),
    async fetchHours(fromHour, toHour, signal) {
      source.calls.push([fromHour, toHour]);
      if (source.gate) {
        await new Promise<void>((resolve, reject) => {
          signal?.addEventListener('abort', () => reject(signal.reason), { once: true });
          source.gate!.then(resolve, reject);
        });
      }
      const out = new Map<number, SourceHour>();
      for (const hour of hoursIn(fromHour, toHour)) {
        out.set(
          hour,
          source.failing.has(hour)
            ? { status: 'failed', error: 'Prometheus answered 503' }
            : source.emptied.has(hour)
              ? { status: 'ok', rows: [] }
              : {
                  status: 'ok',
                  rows: [
                    {
                      hour,
                      instance: 'i-1:9100',
                      labels: {
                        cloud_project_name: 'P',
                        machine_name: 'M',
                        host: 'h1',
                        instance: 'i-1:9100',
                      },
                      busyCpuSeconds: 3600,
                      idleCpuSeconds: 0,
                    },
                  ],
                },
        );
      }
      return out;
    },
  };
  return source;
}

export interface FakeCarbon extends CarbonIntensitySource {
  calls: Array<[number, number]>;
  /** Hours answered with the fallback, marked estimated. */
  estimated: Set<number>;
}

/** 100 g/kWh measured, or 200 g/kWh estimated for the hours in `estimated`. */
export function fakeCarbon(): FakeCarbon {
  const carbon: FakeCarbon = {
    calls: [],
    estimated: new Set(),
    async intensities(fromHour, toHour) {
      carbon.calls.push([fromHour, toHour]);
      return new Map(
        hoursIn(fromHour, toHour).map((hour): [number, HourIntensity] => [
          hour,
          carbon.estimated.has(hour)
            ? { gPerKwh: 200, estimated: true, source: 'fake (fallback)' }
            : { gPerKwh: 100, estimated: false, source: 'fake' },
        ]),
      );
    },
  };
  return carbon;
}

export function hoursIn(from: number, to: number): number[] {
  const hours: number[] = [];
  for (let hour = from; hour < to; hour += HOUR_MS) hours.push(hour);
  return hours;
}

/**
 * Two VMs of machine type Small, of projects P and Q, with 600 and 1200 busy and 3000 idle CPU
 * seconds every hour; the hours in `failing` fail as a Prometheus answering 503 would.
 */
export function twoProjectSource(failing: ReadonlySet<number> = new Set()): CpuSecondsSource {
  return {
    async fetchHours(from, to) {
      return new Map<number, SourceHour>(
        hoursIn(from, to).map((hour): [number, SourceHour] => [
          hour,
          failing.has(hour)
            ? { status: 'failed', error: 'Prometheus answered 503' }
            : {
                status: 'ok',
                rows: ['P', 'Q'].map((project, i) => ({
                  hour,
                  instance: `vm-${i}:9100`,
                  labels: { instance: `vm-${i}:9100`, cloud_project_name: project, machine_name: 'Small' },
                  busyCpuSeconds: 600 * (i + 1),
                  idleCpuSeconds: 3000,
                })),
              },
        ]),
      );
    },
  };
}

/** Deps for one run built around the fakes; the run's store, clock, log and signal are used. */
export function fakeDeps(source: CpuSecondsSource, carbon: CarbonIntensitySource): IngestDepsFactory {
  return async (config, ctx) => ({
    source,
    carbon,
    registry: emptyRegistry,
    store: ctx.store,
    energy: config.energy,
    labels: config.prometheus.labels,
    stepHours: config.prometheus.chunkHours,
    now: () => ctx.clock.now(),
    log: ctx.log,
    signal: ctx.signal,
  });
}

/**
 * Deps for calling `ingestRange` directly: default energy and labels, a fake carbon source, no
 * registry, a week a step, `now` on 2025-04-01; `overrides` replace any of them.
 */
export function directIngestDeps(
  store: Store,
  source: CpuSecondsSource,
  overrides: Partial<IngestDeps> = {},
): IngestDeps {
  const config = parseConfig({});
  return {
    source,
    carbon: fakeCarbon(),
    registry: emptyRegistry,
    store,
    energy: config.energy,
    labels: config.prometheus.labels,
    stepHours: 168,
    now: () => Date.parse('2025-04-01T00:00:00Z'),
    log: silentLogger,
    ...overrides,
  };
}

/** The plugins' config over `dataDir`, fetching `chunkHours` hours per step. */
export function ingestConfig(dataDir: string, chunkHours: number): IngestPluginConfig {
  return IngestPluginConfigSchema.parse({
    prometheus: { chunkHours },
    workspaces: {},
    energy: {},
    carbon: { source: 'static' },
    store: { dataDir },
  });
}

/** The ledger of every month overlapping [from, to), keyed by hour. */
export async function ledgerBetween(
  store: Store,
  from: number,
  to: number,
): Promise<Map<number, LedgerHour>> {
  const out = new Map<number, LedgerHour>();
  const months = new Set(hoursIn(from, to).map((hour) => new Date(hour).toISOString().slice(0, 7)));
  for (const month of months) {
    for (const [hour, record] of await ledgerMonth(store, month)) {
      if (hour >= from && hour < to) out.set(hour, record);
    }
  }
  return out;
}

/** Temp directories removed by `cleanup()`. */
export function tempDirs(prefix: string): { make(): string; cleanup(): void } {
  const made: string[] = [];
  return {
    make() {
      const dir = mkdtempSync(join(tmpdir(), prefix));
      made.push(dir);
      return dir;
    },
    cleanup() {
      for (const dir of made.splice(0)) rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Lets pending promise callbacks and I/O callbacks run. */
export const settle = () => new Promise((resolve) => setImmediate(resolve));
