import { existsSync } from 'node:fs';
import { readdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseConfig } from '../../../src/config';
import { toAllLevelEntries } from '../../../src/aggregate/day-entries';
import { attribute } from '../../../src/domain/attribution';
import { costInstanceHour } from '../../../src/domain/energy';
import { DAY_MS, HOUR_MS } from '../../../src/domain/time';
import { storedKey } from '../../../src/store/rules/keys';
import type { IngestBatch } from '../../../src/domain/usage';
import { ingestRange, stepEnd, type IngestDeps } from '../../../src/ingest/run';
import { silentLogger } from '../../../src/log';
import type { CpuSecondsSource, SourceHour } from '../../../src/ingest/ports';
import { emptyRegistry } from '../../../src/plugins/workspaces/registry';
import { openJsonStore } from '../../../src/store/json';
import type { Store } from '../../../src/store/store';
import { directIngestDeps, hoursIn, tempDirs } from '../../support/fake-ingest';
import { snapshotFiles } from '../../support/store-files';
import { rollupDisagreements } from '../../support/store-invariants';

const at = (iso: string) => Date.parse(iso);
const dirs = tempDirs('cl-ingest-run-');
afterEach(() => dirs.cleanup());

describe('stepEnd', () => {
  const budget = 24_000;
  const start = at('2025-03-10T00:00:00Z');
  const far = at('2026-01-01T00:00:00Z');

  it('holds the budget for a thousand instances while the fleet is unknown', () => {
    expect(stepEnd(start, far, 168, undefined, budget)).toBe(start + DAY_MS);
    expect(stepEnd(start, far, 168, undefined, 8_000)).toBe(start + 8 * HOUR_MS);
    expect(stepEnd(start, far, 168, undefined, 500)).toBe(start + HOUR_MS);
    expect(stepEnd(start, far, 2, undefined, budget)).toBe(start + 2 * HOUR_MS);
  });

  it('never crosses a UTC midnight with a step shorter than a day', () => {
    expect(stepEnd(at('2025-03-10T17:00:00Z'), far, 168, undefined, 8_000)).toBe(at('2025-03-11T00:00:00Z'));
    expect(stepEnd(at('2025-03-10T20:00:00Z'), far, 168, 2000, 8_000)).toBe(at('2025-03-11T00:00:00Z'));
    expect(stepEnd(at('2025-03-10T19:00:00Z'), far, 168, 2000, 8_000)).toBe(at('2025-03-10T23:00:00Z'));
  });

  it('ends a step of a day or more on a UTC midnight', () => {
    expect(stepEnd(at('2025-03-10T01:00:00Z'), far, 168, 1000, budget)).toBe(at('2025-03-11T00:00:00Z'));
    expect(stepEnd(at('2025-03-10T17:00:00Z'), far, 168, 100, budget)).toBe(at('2025-03-17T00:00:00Z'));
  });

  it('holds at most the budget of instance-hours, in whole days, and at most the most hours', () => {
    expect(stepEnd(start, far, 168, 1000, budget)).toBe(start + DAY_MS);
    expect(stepEnd(start, far, 168, 300, budget)).toBe(start + 3 * DAY_MS); // 80 h → 3 days
    expect(stepEnd(start, far, 168, 100, budget)).toBe(start + 7 * DAY_MS); // 240 h, capped at 168
    expect(stepEnd(start, far, 168, 0, budget)).toBe(start + 7 * DAY_MS);
  });

  it('goes below a day, by hours, for a fleet larger than a day of the budget', () => {
    expect(stepEnd(start, far, 168, 5000, budget)).toBe(start + 4 * HOUR_MS);
    expect(stepEnd(start, far, 168, 10_000_000, budget)).toBe(start + HOUR_MS);
  });

  it('never passes the end of the range', () => {
    expect(stepEnd(start, start + 5 * HOUR_MS, 168, 100, budget)).toBe(start + 5 * HOUR_MS);
  });
});

/** `instances` VMs over two projects and two machine types, with figures that vary by hour and VM. */
function fleetSource(instances: number): CpuSecondsSource & { calls: Array<[number, number]> } {
  const calls: Array<[number, number]> = [];
  return {
    calls,
    async fetchHours(fromHour, toHour) {
      calls.push([fromHour, toHour]);
      const answers = new Map<number, SourceHour>();
      for (const hour of hoursIn(fromHour, toHour)) {
        const rows = Array.from({ length: instances }, (_, vm) => {
          const busy = ((hour / HOUR_MS + vm * 7) % 13) * 97.3 + vm;
          return {
            hour,
            instance: `vm-${vm}:9100`,
            labels: {
              instance: `vm-${vm}:9100`,
              cloud_project_name: vm % 2 === 0 ? 'Even' : 'Odd',
              machine_name: vm % 3 === 0 ? 'Large' : 'Small',
            },
            busyCpuSeconds: busy,
            idleCpuSeconds: 3600 - busy / 2,
          };
        });
        answers.set(hour, { status: 'ok', rows });
      }
      return answers;
    },
  };
}

const deps = async (store: Store, source: CpuSecondsSource, overrides: Partial<IngestDeps> = {}) =>
  directIngestDeps(store, source, overrides);

describe('ingestRange', () => {
  const from = at('2025-01-25T00:00:00Z');
  const to = at('2025-02-09T05:00:00Z');

  it('fails an hour holding a figure that cannot be true, whatever the source, and stores the others', async () => {
    const first = at('2025-03-10T10:00:00Z');
    const hour = (n: number) => first + n * HOUR_MS;
    const row = (h: number, busyCpuSeconds: number) => ({
      hour: h,
      instance: 'vm:9100',
      labels: { instance: 'vm:9100', cloud_project_name: 'P', machine_name: 'Small' },
      busyCpuSeconds,
      idleCpuSeconds: 100,
    });
    const busy = [100, 1e308, Number.NaN, -1, 100, 100];
    const source: CpuSecondsSource = {
      async fetchHours(from, to) {
        return new Map<number, SourceHour>(
          hoursIn(from, to).map((h) => [h, { status: 'ok', rows: [row(h, busy[(h - first) / HOUR_MS])] }]),
        );
      },
    };
    // Hour 4's intensity is absurd; hour 5 overflows through an energy model built in code.
    const carbon = {
      async intensities(from: number, to: number) {
        return new Map(
          hoursIn(from, to).map((h) => [
            h,
            { gPerKwh: h === hour(4) ? 1e308 : 200, estimated: false, source: 'test' },
          ]),
        );
      },
    };
    const store = await openJsonStore({ dataDir: dirs.make(), log: silentLogger });
    const energy = parseConfig({}).energy;
    const report = await ingestRange(
      await deps(store, source, { carbon, energy: { ...energy, pue: 1e306 } }),
      first,
      hour(6),
    );
    expect(report.failed.map((f) => (f.hour - first) / HOUR_MS)).toEqual([0, 1, 2, 3, 4, 5]);
    const honest = await ingestRange(await deps(store, source, { carbon }), first, hour(6));
    expect(honest.failed.map((f) => [(f.hour - first) / HOUR_MS, f.error])).toEqual([
      [1, expect.stringMatching(/^busyCpuSeconds 1e\+308 of instance "vm:9100" is over 14,745,600/)],
      [2, 'busyCpuSeconds NaN of instance "vm:9100" is not a finite number'],
      [3, 'busyCpuSeconds -1 of instance "vm:9100" is negative'],
      [4, 'the carbon intensity 1e+308 g/kWh is over 10,000'],
    ]);
    expect(report.failed[0].error).toMatch(
      /^the figures of instance "vm:9100" overflow: busyKwh .* is not a finite/,
    );
    expect(honest.okHours).toBe(2);
    const [day] = await store.readDays('PROJECT', '2025-03-10', ['P']);
    expect(Object.keys(day!.hours)).toEqual(['10:00', '11:00', '12:00', '13:00', '14:00', '15:00']);
    expect(day!.hours['15:00']).not.toBe('failed');
    expect(day!.hours['11:00']).toBe('failed');
  });

  it('stores a label too long, or too broken, to name a directory, and every other instance with it', async () => {
    const longProject = '研究'.repeat(15); // 270 bytes percent-encoded: over a file name's 255
    const hour = at('2025-03-10T12:00:00Z');
    const row = (instance: string, labels: Record<string, string>) => ({
      hour,
      instance,
      labels: { instance, machine_name: 'Small', ...labels },
      busyCpuSeconds: 100,
      idleCpuSeconds: 3500,
    });
    const source: CpuSecondsSource = {
      async fetchHours() {
        return new Map<number, SourceHour>([
          [
            hour,
            {
              status: 'ok',
              rows: [
                row('d1:9100', { cloud_project_name: 'N' }),
                row('d2:9100', { cloud_project_name: longProject }),
                row('d3:9100', { cloud_project_name: 'N', user: 'a\uD800b' }),
              ],
            },
          ],
        ]);
      },
    };
    const store = await openJsonStore({ dataDir: dirs.make(), log: silentLogger });
    const labels = { ...parseConfig({}).prometheus.labels, user: 'user' };
    const report = await ingestRange(await deps(store, source, { labels }), hour, hour + HOUR_MS);
    expect(report).toMatchObject({ okHours: 1, failed: [], instanceHours: 3 });
    const projects = await store.listKeys('PROJECT');
    expect(projects).toContain('N');
    expect(projects).toContain(storedKey(longProject));
    expect(await store.listKeys('USER')).toEqual(['a\uFFFDb', 'unknown']);
    const [stored] = await store.readDays('PROJECT', '2025-03-10', [storedKey(longProject)]);
    expect(stored?.totals.all.busyCpuSeconds).toBe(100);
    await store.close();
  });

  it('sizes its steps by the instances the last answer had, in whole days', async () => {
    const store = await openJsonStore({ dataDir: dirs.make(), log: silentLogger });
    const source = fleetSource(10);
    // An hour (720 instance-hours for a thousand VMs) to learn the fleet; then 10 instances and 720
    // instance-hours a step: 72 h, to the third midnight, then three days at a time.
    await ingestRange(await deps(store, source, { stepInstanceHours: 720 }), from, to);
    const hours = (ms: number) => ms / HOUR_MS;
    expect(source.calls.map(([start, end]) => hours(end - start))).toEqual([1, 71, 72, 72, 72, 72, 5]);
    expect(source.calls[0][0]).toBe(from);
    expect(source.calls.at(-1)![1]).toBe(to);
    await store.close();
  });

  it('writes the same files, deferring roll-ups across many steps, as one step per run', async () => {
    const stepped = dirs.make();
    const once = dirs.make();
    const source = fleetSource(6);

    const deferring = await openJsonStore({ dataDir: stepped, log: silentLogger });
    await ingestRange(await deps(deferring, source, { stepInstanceHours: 6 * 48 }), from, to);
    expect(source.calls.length).toBeGreaterThan(5);

    // A run of one step brings its roll-ups level at once: the way the store worked before.
    const level = await openJsonStore({ dataDir: once, log: silentLogger });
    for (let day = from; day < to; day += DAY_MS) {
      await ingestRange(await deps(level, source), day, Math.min(to, day + DAY_MS));
    }

    const a = await snapshotFiles(stepped);
    const b = await snapshotFiles(once);
    expect([...a.keys()].sort()).toEqual([...b.keys()].sort());
    for (const [path, text] of a) expect({ path, text }).toEqual({ path, text: b.get(path) });
    expect(existsSync(join(stepped, 'journal.json'))).toBe(false);
    expect(await rollupDisagreements(stepped)).toEqual([]);
    await deferring.close();
    await level.close();
  });

  it('settles what it stored when a step fails, and reports that failure', async () => {
    const dataDir = dirs.make();
    const store = await openJsonStore({ dataDir, log: silentLogger });
    const inner = fleetSource(4);
    const source: CpuSecondsSource = {
      async fetchHours(fromHour, toHour, signal) {
        if (fromHour >= at('2025-02-03T00:00:00Z')) throw new Error('the source broke');
        return inner.fetchHours(fromHour, toHour, signal);
      },
    };
    await expect(
      ingestRange(await deps(store, source, { stepInstanceHours: 4 * 48 }), from, to),
    ).rejects.toThrow('the source broke');
    expect(existsSync(join(dataDir, 'journal.json'))).toBe(false);
    expect(await rollupDisagreements(dataDir)).toEqual([]);
    const [january] = await store.readMonths('PROJECT', '2025-01', ['Even']);
    expect(Object.keys(january!.days)).toHaveLength(7);
    await store.close();
  });
});

describe('JsonStore with deferred roll-ups', () => {
  const first = at('2025-03-01T00:00:00Z');

  /** Two days of March from the fleet source, costed at 100 g/kWh, as one batch. */
  async function twoDaysBatch(): Promise<IngestBatch> {
    const config = parseConfig({});
    const answers = await fleetSource(3).fetchHours(first, first + 2 * DAY_MS);
    const costed = [...answers.values()].flatMap((answer) =>
      answer.status === 'ok'
        ? answer.rows.map((row) =>
            costInstanceHour(attribute(row, config.prometheus.labels, emptyRegistry), config.energy, 100),
          )
        : [],
    );
    const outcomes = hoursIn(first, first + 2 * DAY_MS).map((hour) => ({
      hour,
      status: 'ok' as const,
      intensity: { gPerKwh: 100, estimated: false, source: 'fake' },
      instanceHours: {},
    }));
    return { outcomes, entries: toAllLevelEntries(costed), attemptedAt: first };
  }

  it('leaves a month of the last batch pending, read level with its days without writing', async () => {
    const dataDir = dirs.make();
    const store = await openJsonStore({ dataDir, log: silentLogger });
    const writer = await store.openWriter({ purpose: 'a test' });
    await writer.applyBatch(await twoDaysBatch());
    expect(existsSync(join(dataDir, 'journal.json'))).toBe(true);
    expect(existsSync(join(dataDir, 'usage/project/Even/2025/2025-03.month.json'))).toBe(false);

    const [march] = await store.readMonths('PROJECT', '2025-03', ['Even']);
    const [day1, day2] = await store
      .readDays('PROJECT', '2025-03-01', ['Even'])
      .then(async (one) => [one[0], (await store.readDays('PROJECT', '2025-03-02', ['Even']))[0]]);
    expect(march!.days).toEqual({ '2025-03-01': day1!.totals, '2025-03-02': day2!.totals });
    const [year] = await store.readYears('PROJECT', '2025', ['Even']);
    expect(year!.totals).toEqual(march!.totals);
    // The read wrote nothing: the month is settled when the writer is released.
    expect(existsSync(join(dataDir, 'journal.json'))).toBe(true);
    await writer.release();
    expect(existsSync(join(dataDir, 'journal.json'))).toBe(false);
    expect(await rollupDisagreements(dataDir)).toEqual([]);
    await store.close();
  });

  it('moves a damaged roll-up aside when it settles, as a batch would, and rebuilds it', async () => {
    const dataDir = dirs.make();
    const store = await openJsonStore({ dataDir, log: silentLogger });
    const writer = await store.openWriter({ purpose: 'a test' });
    await writer.applyBatch(await twoDaysBatch());
    const month = join(dataDir, 'usage/project/Even/2025/2025-03.month.json');
    await writeFile(month, '{ "cloud_project_name": "Even", "month": ');

    await writer.release();
    expect(await rollupDisagreements(dataDir)).toEqual([]);
    expect(existsSync(join(dataDir, 'journal.json'))).toBe(false);
    expect(await readdir(join(dataDir, 'quarantine'))).toHaveLength(1);
    await store.close();
  });

  it('is read level by the next store, and brought level by its writer, when its process stops with roll-ups pending', async () => {
    const dataDir = dirs.make();
    const stopped = await openJsonStore({ dataDir, log: silentLogger });
    await (await stopped.openWriter({ purpose: 'a test' })).applyBatch(await twoDaysBatch());
    expect(await rollupDisagreements(dataDir)).not.toEqual([]);

    // Never released nor closed, as after a kill, whose lock goes with its process.
    await rm(join(dataDir, 'ingest.lock'));
    const next = await openJsonStore({ dataDir, log: silentLogger });
    const [march] = await next.readMonths('PROJECT', '2025-03', ['Even']);
    expect(Object.keys(march!.days)).toEqual(['2025-03-01', '2025-03-02']);
    expect(existsSync(join(dataDir, 'journal.json'))).toBe(true);
    await (await next.openWriter({ purpose: 'the next ingest' })).release();
    expect(existsSync(join(dataDir, 'journal.json'))).toBe(false);
    expect(await rollupDisagreements(dataDir)).toEqual([]);
    expect(await next.readMonths('PROJECT', '2025-03', ['Even'])).toEqual([march]);
    await next.close();
  });
});
