import { graphql, type GraphQLSchema } from 'graphql';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import type { Principal } from '../../src/auth/principal';
import { parseConfig } from '../../src/config';
import { fixedClock } from '../../src/domain/clock';
import { DAY_MS, HOUR_MS } from '../../src/domain/time';
import type { CpuSecondsSource } from '../../src/ingest/ports';
import { RECONCILE_PLUGIN } from '../../src/ingest/reconcile';
import { ingestRange } from '../../src/ingest/run';
import { silentLogger } from '../../src/log';
import { PluginHost } from '../../src/plugins/host';
import { registerSummaries, SUMMARIES_PLUGIN } from '../../src/plugins/summaries';
import { buildAppSchema, createRequestContext } from '../../src/app-schema';
import { summaryStoresFor, type SummaryStores } from '../../src/store/capabilities';
import { openStore, type OpenedStore } from '../../src/store/open';
import { runCli } from '../support/cli';
import { manualScheduler } from '../support/manual-scheduler';
import { directIngestDeps, tempDirs } from '../support/fake-ingest';
import { createTestDatabase, type TestDatabase } from '../support/postgres';
import { summaryFleet, type SummaryFleet } from '../support/summary-fleet';

/**
 * Daily summaries (contract section 11) over a store ingested from a fleet of three users, on both
 * stores: each summary equals the sums of the user's HOUR series over its day, including a day
 * with a failed hour, which the daily job summarises again once the hour is repaired.
 */

const DAY1 = Date.parse('2025-03-10T00:00:00Z');
const DAYS = ['2025-03-10', '2025-03-11', '2025-03-12'];
const END = DAY1 + 3 * DAY_MS;
const FAILED_HOUR = DAY1 + DAY_MS + 13 * HOUR_MS;
const USERS = ['alice', 'bob', 'carol'];
const admin: Principal = { kind: 'admin', name: 'ops' };

const SUMMARY_FIELDS = `user date vmMinutes ramGbMinutes diskGbMinutes byMachine { machineName minutes }
  usage { busyCpuSeconds idleCpuSeconds busyKwh idleKwh busyGco2eq idleGco2eq totalKwh totalGco2eq }
  resources { upHours memoryByteHours diskByteHours networkReceiveBytes memoryKwh storageGco2eq operationalKwh operationalGco2eq }
  complete`;
const HOUR_FIELDS = `buckets { start status
  usage { busyCpuSeconds idleCpuSeconds busyKwh idleKwh busyGco2eq idleGco2eq totalKwh totalGco2eq }
  resources { upHours memoryByteHours diskByteHours networkReceiveBytes memoryKwh storageGco2eq operationalKwh operationalGco2eq } }`;

interface Summary {
  user: string;
  date: string;
  vmMinutes: number;
  ramGbMinutes: number;
  diskGbMinutes: number;
  byMachine: Array<{ machineName: string; minutes: number }>;
  usage: Record<string, number>;
  resources: Record<string, number>;
  complete: boolean;
}
interface HourBucket {
  start: string;
  status: string;
  usage: Record<string, number> | null;
  resources: Record<string, number> | null;
}

/** `source` with the CPU seconds of `hour` multiplied by `factor`, as a repaired exporter might say. */
function scaled(source: CpuSecondsSource, hour: number, factor: number): CpuSecondsSource {
  return {
    async fetchHours(fromHour, toHour) {
      const hours = await source.fetchHours(fromHour, toHour);
      const answer = hours.get(hour);
      if (answer?.status === 'ok') {
        hours.set(hour, {
          ...answer,
          rows: answer.rows.map((row) => ({
            ...row,
            busyCpuSeconds: row.busyCpuSeconds * factor,
            idleCpuSeconds: row.idleCpuSeconds * factor,
          })),
        });
      }
      return hours;
    },
  };
}

const dirs = tempDirs('cl-summaries-');
let schema: GraphQLSchema;
beforeAll(async () => {
  schema = await buildAppSchema();
});
afterAll(() => dirs.cleanup());

describe.each(['json', 'postgres'] as const)('daily summaries on the %s store', (kind) => {
  let database: TestDatabase | undefined;
  let store: OpenedStore;
  let stores: SummaryStores;
  let fleet: SummaryFleet;
  let configFile: string;

  beforeAll(async () => {
    const dir = dirs.make();
    database = kind === 'postgres' ? await createTestDatabase() : undefined;
    const storeConfig =
      kind === 'postgres'
        ? { kind, url: database!.url, dataDir: join(dir, 'local') }
        : { kind, dataDir: join(dir, 'data') };
    const config = parseConfig({ store: storeConfig });
    configFile = join(dir, 'config.json');
    writeFileSync(configFile, JSON.stringify({ store: storeConfig }));
    store = await openStore(config.store, silentLogger);
    stores = summaryStoresFor(store, config.store);
    fleet = summaryFleet(DAY1);
    fleet.failing.add(FAILED_HOUR);
    const labels = { ...config.prometheus.labels, user: 'user' };
    await ingestRange(directIngestDeps(store, fleet, { labels, stepHours: 24 }), DAY1, END);
  });

  afterAll(async () => {
    await store.close();
    await database?.drop();
  });

  async function query<T>(source: string, principal: Principal = admin): Promise<T> {
    const answer = await graphql({
      schema,
      source,
      contextValue: createRequestContext({
        store,
        clock: fixedClock(END + DAY_MS),
        log: silentLogger,
        principal,
        summaries: stores,
      }),
    });
    if (answer.errors) throw answer.errors[0];
    return answer.data as T;
  }

  const summariesOf = async (user: string) =>
    (
      await query<{ dailySummaries: Summary[] }>(
        `{ dailySummaries(user: "${user}", from: "2025-03-10T00:00:00Z", to: "2025-03-13T00:00:00Z") { ${SUMMARY_FIELDS} } }`,
      )
    ).dailySummaries;

  /** The sums over the day of the user's HOUR series, as a summary would say them. */
  async function hourSums(user: string, date: string) {
    const { usageSeries } = await query<{ usageSeries: { buckets: HourBucket[] } }>(
      `{ usageSeries(level: USER, key: "${user}", from: "${date}T00:00:00Z", to: "${date}T23:59:59Z", granularity: HOUR) { ${HOUR_FIELDS} } }`,
    );
    const usage: Record<string, number> = {};
    const resources: Record<string, number> = {};
    for (const bucket of usageSeries.buckets) {
      for (const [field, value] of Object.entries(bucket.usage ?? {}))
        usage[field] = (usage[field] ?? 0) + value;
      for (const [field, value] of Object.entries(bucket.resources ?? {}))
        resources[field] = (resources[field] ?? 0) + value;
    }
    return {
      usage,
      resources,
      vmMinutes: resources.upHours * 60,
      ramGbMinutes: (resources.memoryByteHours / 1e9) * 60,
      diskGbMinutes: (resources.diskByteHours / 1e9) * 60,
      complete: usageSeries.buckets.every((bucket) => bucket.status === 'OK'),
    };
  }

  function expectEqualFigures(summary: Summary, sums: Awaited<ReturnType<typeof hourSums>>): void {
    const close = (a: number, b: number) => Math.abs(a - b) <= 1e-9 * Math.max(1, Math.abs(b));
    const pairs: Array<[string, number, number]> = [
      ['vmMinutes', summary.vmMinutes, sums.vmMinutes],
      ['ramGbMinutes', summary.ramGbMinutes, sums.ramGbMinutes],
      ['diskGbMinutes', summary.diskGbMinutes, sums.diskGbMinutes],
      ...Object.entries(sums.usage).map(([f, v]): [string, number, number] => [
        `usage.${f}`,
        summary.usage[f],
        v,
      ]),
      ...Object.entries(sums.resources).map(([f, v]): [string, number, number] => [
        `resources.${f}`,
        summary.resources[f],
        v,
      ]),
    ];
    expect(pairs.filter(([, a, b]) => !close(a, b))).toEqual([]);
    expect(summary.complete).toBe(sums.complete);
  }

  const minutesTruth = (user: string, date: string) =>
    [...fleet.upHours(user, Date.parse(`${date}T00:00:00Z`), Date.parse(`${date}T00:00:00Z`) + DAY_MS)]
      .map(([machineName, upHours]) => ({ machineName, minutes: upHours * 60 }))
      .sort((a, b) => (a.machineName < b.machineName ? -1 : 1));

  it('summarises any day with `summarize --date`, the sums of each user’s HOUR series, again the same', async () => {
    for (const date of DAYS) {
      const run = await runCli(['summarize', '--date', date, '--config', configFile]);
      expect({ date, code: run.code }).toEqual({ date, code: 0 });
      expect(run.stdout).toContain(date === '2025-03-11' ? 'incomplete' : 'complete');
    }
    for (const user of USERS) {
      const summaries = await summariesOf(user);
      const expectedDays = user === 'carol' ? DAYS.slice(1) : DAYS;
      expect(summaries.map((s) => s.date)).toEqual(expectedDays.map((d) => `${d}T00:00:00.000Z`));
      for (const summary of summaries) {
        const date = summary.date.slice(0, 10);
        expectEqualFigures(summary, await hourSums(user, date));
        if (date !== '2025-03-11') expect(summary.byMachine).toEqual(minutesTruth(user, date));
      }
    }
    // bob's VM started at 10:30: half an up hour, then whole ones to midnight.
    expect((await summariesOf('bob'))[0].vmMinutes).toBe((0.5 + 13) * 60);
    const before = await stores.summaries.read('alice', DAYS[0], '2025-03-13');
    expect((await runCli(['summarize', '--date', DAYS[0], '--config', configFile])).code).toBe(0);
    expect(await stores.summaries.read('alice', DAYS[0], '2025-03-13')).toEqual(before);
  });

  it('marks the day with a failed hour incomplete, and the daily job summarises it again once repaired', async () => {
    const incomplete = (await summariesOf('alice')).find((s) => s.date.startsWith('2025-03-11'))!;
    expect(incomplete.complete).toBe(false);

    fleet.failing.clear();
    await ingestRange(
      directIngestDeps(store, fleet, { labels: { ...parseConfig({}).prometheus.labels, user: 'user' } }),
      FAILED_HOUR,
      FAILED_HOUR + HOUR_MS,
    );
    const host = new PluginHost({ store, clock: fixedClock(END + 2 * HOUR_MS), log: silentLogger });
    registerSummaries(host, parseConfig({}), stores);
    expect(await host.runNow(SUMMARIES_PLUGIN)).toMatchObject({
      outcome: 'ok',
      report: { detail: { days: DAYS, incomplete: [] } },
    });

    for (const user of USERS) {
      const repaired = (await summariesOf(user)).find((s) => s.date.startsWith('2025-03-11'))!;
      expect(repaired.complete).toBe(true);
      expectEqualFigures(repaired, await hourSums(user, '2025-03-11'));
      expect(repaired.byMachine).toEqual(minutesTruth(user, '2025-03-11'));
    }
  });

  it('summarises again a day complete when summarised once a re-ingest changed its figures', async () => {
    const changedHour = DAY1 + 15 * HOUR_MS;
    const before = (await summariesOf('alice')).find((s) => s.date.startsWith(DAYS[0]))!;
    expect(before.complete).toBe(true);
    await ingestRange(
      directIngestDeps(store, scaled(fleet, changedHour, 1.5), {
        labels: { ...parseConfig({}).prometheus.labels, user: 'user' },
        replace: true,
      }),
      changedHour,
      changedHour + HOUR_MS,
    );
    const host = new PluginHost({ store, clock: fixedClock(END + 3 * HOUR_MS), log: silentLogger });
    registerSummaries(host, parseConfig({}), stores);
    expect(await host.runNow(SUMMARIES_PLUGIN)).toMatchObject({ outcome: 'ok' });

    const after = (await summariesOf('alice')).find((s) => s.date.startsWith(DAYS[0]))!;
    const sums = await hourSums('alice', DAYS[0]);
    expectEqualFigures(after, sums);
    expect(after.usage.busyCpuSeconds).toBeGreaterThan(before.usage.busyCpuSeconds);
  });

  it('summarises after the nightly reconcile that shares its cron, so yesterday’s summary has its repair', async () => {
    const config = parseConfig({});
    const repairedHour = DAY1 + 2 * DAY_MS + 9 * HOUR_MS;
    const scheduler = manualScheduler();
    const runs: string[] = [];
    let summarised!: () => void;
    const summariesDone = new Promise<void>((resolve) => (summarised = resolve));
    const host = new PluginHost({
      store,
      clock: fixedClock(END + 2 * HOUR_MS),
      log: silentLogger,
      scheduler,
      onRun: (name, outcome) => {
        runs.push(`${name}: ${outcome.outcome}`);
        if (name === SUMMARIES_PLUGIN) summarised();
      },
    });
    // The reconcile's repair of yesterday, as slow as it likes: the summaries must wait for it.
    let release!: () => void;
    const repairMayFinish = new Promise<void>((resolve) => (release = resolve));
    host.register(
      {
        name: RECONCILE_PLUGIN,
        configSchema: z.unknown(),
        schedule: config.schedule.reconcile,
        timeoutMs: 60_000,
        async run() {
          await repairMayFinish;
          await ingestRange(
            directIngestDeps(store, scaled(fleet, repairedHour, 2), {
              labels: { ...config.prometheus.labels, user: 'user' },
              replace: true,
            }),
            repairedHour,
            repairedHour + HOUR_MS,
          );
          return { ok: true };
        },
      },
      undefined,
    );
    registerSummaries(host, config, stores, { after: RECONCILE_PLUGIN });
    host.start();
    scheduler.tick(config.schedule.summaries);
    await new Promise((resolve) => setTimeout(resolve, 50));
    release();
    await summariesDone;
    await host.stop(1000);

    expect(runs).toEqual([`${RECONCILE_PLUGIN}: ok`, `${SUMMARIES_PLUGIN}: ok`]);
    const yesterday = (await summariesOf('bob')).find((s) => s.date.startsWith(DAYS[2]))!;
    expectEqualFigures(yesterday, await hourSums('bob', DAYS[2]));
  });

  it('lets a scoped token read its users’ summaries only, as their USER series', async () => {
    const alice: Principal = {
      kind: 'scoped',
      name: 'alice',
      projects: new Set(),
      users: new Set(['alice']),
    };
    const own = await query<{ dailySummaries: Summary[] }>(
      `{ dailySummaries(user: "alice", from: "2025-03-10T12:00:00Z", to: "2025-03-11T00:00:01Z") { date } }`,
      alice,
    );
    // The days overlapping the range: from noon of the first to a second into the second.
    expect(own.dailySummaries.map((s) => s.date)).toEqual([
      '2025-03-10T00:00:00.000Z',
      '2025-03-11T00:00:00.000Z',
    ]);
    await expect(
      query(
        `{ dailySummaries(user: "bob", from: "2025-03-10T00:00:00Z", to: "2025-03-11T00:00:00Z") { date } }`,
        alice,
      ),
    ).rejects.toMatchObject({ extensions: { code: 'FORBIDDEN' } });
  });
});
