import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { main } from '../../src/cli';
import { parseConfig } from '../../src/config';
import { HOUR_MS } from '../../src/domain/time';
import { planReconcile } from '../../src/ingest/reconcile';
import { ingestRange } from '../../src/ingest/run';
import { jsonLogger, silentLogger } from '../../src/log';
import { staticIntensity } from '../../src/plugins/carbon';
import { createPrometheusSource } from '../../src/plugins/prometheus/source';
import { emptyRegistry } from '../../src/plugins/workspaces/registry';
import { openJsonStore, type JsonStore } from '../../src/store/json';
import type { MonthRollup } from '../../src/domain/usage';
import { PartialReadError, UnreadableDataError } from '../../src/store/store';
import { startTestServer, type TestServer } from '../support/http';
import { dayEntryPath, readDayEntryFile, snapshotFiles, treeStamp } from '../support/store-files';
import { rollupDisagreements, storeFiles } from '../support/store-invariants';
import {
  connectionRefused,
  fakeFetch,
  LAB_START,
  labPrometheus,
} from '../unit/plugins/prometheus/fake-prometheus';
import { ledgerMonth } from '../support/describe-store';
import { plainStore } from '../support/json-store-fixture';

/**
 * A damaged file in the store (contract: never lose or corrupt a stored figure): the server
 * refuses only what it cannot read, with a coded error, and keeps serving the rest; the writer
 * moves the file aside to quarantine/, keeps roll-ups equal to their days, turns the day's hours
 * into failed ones (never zeros) and the next ingestion of the day restores it.
 * The recorded Prometheus answers hold projects IDAaaS and Mantid, hours 00:00 to 05:00 of 2025-09-21.
 */
const DATE = '2025-09-21';
const at = (hour: number) => LAB_START + hour * HOUR_MS;
const config = parseConfig({ prometheus: { selector: 'job="node"', attempts: 1 } });

const scratch: string[] = [];
afterAll(async () => {
  for (const dir of scratch) await rm(dir, { recursive: true, force: true });
});

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'cl-damaged-'));
  scratch.push(dir);
  return dir;
}

async function ingest(store: JsonStore, fromHour: number, toHour: number, prometheusDown = false) {
  const source = createPrometheusSource(config.prometheus, {
    fetch: fakeFetch(
      prometheusDown
        ? () => {
            throw connectionRefused();
          }
        : labPrometheus(),
    ),
  });
  return ingestRange(
    {
      source,
      carbon: staticIntensity(200),
      registry: emptyRegistry,
      store,
      energy: config.energy,
      labels: config.prometheus.labels,
      stepHours: 24,
      now: () => Date.parse('2025-10-01T00:00:00Z'),
      log: silentLogger,
    },
    at(fromHour),
    at(toHour),
  );
}

/** Every file of an undamaged store holding hours 00:00 to 05:00. */
let clean: Map<string, string>;

beforeAll(async () => {
  const dir = await tempDir();
  const store = await openJsonStore({ dataDir: dir });
  expect((await ingest(store, 0, 6)).failed).toEqual([]);
  await store.close();
  clean = await snapshotFiles(dir);
  expect(clean.has(`usage/project/IDAaaS/2025/${DATE}.json`)).toBe(true);
  expect(clean.has(`usage/project/Mantid/2025/${DATE}.json`)).toBe(true);
});

async function copyOfClean(): Promise<string> {
  const dir = await tempDir();
  for (const [path, text] of clean) {
    await mkdir(join(dir, path, '..'), { recursive: true });
    await writeFile(join(dir, path), text);
  }
  return dir;
}

const hourlySeries = (key: string) => `{
  usageSeries(level: PROJECT, key: "${key}", from: "${DATE}T00:00:00Z", to: "${DATE}T06:00:00Z", granularity: HOUR) {
    buckets { status failedHours usage { busyKwh } }
  }
}`;

async function query(server: TestServer, text: string) {
  const res = await fetch(server.url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ query: text }),
  });
  expect(res.status).toBe(200);
  return res.json();
}

describe('a damaged day entry found by the server', () => {
  let dataDir: string;
  let store: JsonStore;
  let server: TestServer;
  const logs: Array<Record<string, unknown>> = [];
  const damaged = '{"cloud_project_name": "IDA';

  beforeAll(async () => {
    dataDir = await copyOfClean();
    await writeFile(dayEntryPath(dataDir, 'PROJECT', 'IDAaaS', DATE), damaged);
    store = await openJsonStore({ dataDir, log: jsonLogger((line) => logs.push(JSON.parse(line))) });
    server = await startTestServer({ store: plainStore(store) });
  });
  afterAll(async () => {
    await server.close();
    await store.close();
  });

  it('refuses that key’s series with DATA_UNAVAILABLE, serves the others, and keeps running', async () => {
    const refused = await query(server, hourlySeries('IDAaaS'));
    expect(refused.data).toBeNull();
    expect(refused.errors).toEqual([
      expect.objectContaining({
        message: `The stored usage of PROJECT "IDAaaS" for ${DATE} is damaged and cannot be read; it has been reported, and is restored once that period is ingested again`,
        extensions: { code: 'DATA_UNAVAILABLE' },
      }),
    ]);
    const served = await query(server, hourlySeries('Mantid'));
    expect(served.errors).toBeUndefined();
    expect(served.data.usageSeries.buckets.map((b: { status: string }) => b.status)).toEqual(
      Array(6).fill('OK'),
    );
    expect((await fetch(`${server.origin}/healthz`)).status).toBe(200);
  });

  it('reports the file once in the log, writing nothing itself', async () => {
    const before = await treeStamp(dataDir);
    await query(server, hourlySeries('IDAaaS'));
    const reports = logs.filter((line) => String(line.msg).startsWith('unreadable store file'));
    expect(reports).toHaveLength(1);
    expect(reports[0]).toMatchObject({
      level: 'error',
      path: dayEntryPath(dataDir, 'PROJECT', 'IDAaaS', DATE),
    });
    expect(await treeStamp(dataDir)).toEqual(before);
    expect(await readFile(dayEntryPath(dataDir, 'PROJECT', 'IDAaaS', DATE), 'utf8')).toBe(damaged);
  });

  it('is moved aside by the next batch, roll-ups rebuilt, and its hours read as failed, never as zeros', async () => {
    // A batch of another hour: the writer deals with what this store's readers reported first.
    await ingest(store, 6, 7);
    const quarantined = await storeFiles(join(dataDir, 'quarantine'));
    expect(quarantined).toEqual([
      expect.stringMatching(new RegExp(`^[^/]+/usage/project/IDAaaS/2025/${DATE}\\.json$`)),
    ]);
    expect(await readFile(join(dataDir, 'quarantine', quarantined[0]), 'utf8')).toBe(damaged);
    expect(await readDayEntryFile(dataDir, 'PROJECT', 'IDAaaS', DATE)).toBeUndefined();
    expect(await rollupDisagreements(dataDir)).toEqual([]);

    const ledger = await ledgerMonth(store, '2025-09');
    for (let hour = 0; hour < 6; hour++) {
      expect(ledger.get(at(hour))).toMatchObject({
        status: 'failed',
        keepsFigures: true,
        error: expect.stringMatching(
          /^the stored day entry of PROJECT "IDAaaS" could not be read \(.+; moved to quarantine\/.+\); ingest 2025-09-21 again$/,
        ),
      });
    }
    // The daily reconcile, three days on, retries those hours by itself.
    const plan = planReconcile(await store.readLedger(at(0), at(24)), at(72));
    expect(plan.failedHours).toEqual([0, 1, 2, 3, 4, 5].map(at));

    // The other project's hours read as failed, though its figures are still stored: the ledger
    // holds one status per hour. IDAaaS had no other file: the key is gone until re-ingested.
    const mantid = await query(server, hourlySeries('Mantid'));
    expect(mantid.data.usageSeries.buckets).toEqual(
      Array(6).fill({ status: 'FAILED', failedHours: 1, usage: null }),
    );
    const series = await query(server, hourlySeries('IDAaaS'));
    expect(series.errors).toBeUndefined();
    expect(series.data.usageSeries.buckets).toEqual(
      Array(6).fill({ status: 'MISSING', failedHours: 0, usage: null }),
    );
  });

  it('keeps the figures other keys hold when an attempt at those hours fails', async () => {
    const mantid = await readFile(dayEntryPath(dataDir, 'PROJECT', 'Mantid', DATE), 'utf8');
    const report = await ingest(store, 0, 6, true);
    expect(report.failed).toHaveLength(6);
    expect(await readFile(dayEntryPath(dataDir, 'PROJECT', 'Mantid', DATE), 'utf8')).toBe(mantid);
    expect((await ledgerMonth(store, '2025-09')).get(at(0))).toMatchObject({
      status: 'failed',
      attempts: 1,
      keepsFigures: true,
    });
  });

  it('is restored by ingesting the day again: the usage files equal the undamaged store’s', async () => {
    expect((await ingest(store, 0, 6)).failed).toEqual([]);
    const usage = [...(await snapshotFiles(dataDir, 'usage'))];
    const cleanUsage = [...clean].filter(([path]) => path.startsWith('usage/'));
    // Hour 06:00 was ingested since (with no usage): the day files are the same, the roll-ups too.
    expect(new Map(usage)).toEqual(new Map(cleanUsage));
    const series = await query(server, hourlySeries('IDAaaS'));
    expect(series.data.usageSeries.buckets.map((b: { status: string }) => b.status)).toEqual(
      Array(6).fill('OK'),
    );
  });
});

describe('damaged files a batch comes across', () => {
  it('moves a damaged day entry it reads, and the roll-ups readers reported, aside; re-ingesting restores the store', async () => {
    const dataDir = await copyOfClean();
    const machineDay = [...clean.keys()].find(
      (path) => path.startsWith('usage/machine/') && path.endsWith(`${DATE}.json`),
    )!;
    await writeFile(join(dataDir, machineDay), '');
    await writeFile(join(dataDir, 'usage/project/Mantid/2025/2025-09.month.json'), '{"totals": 1}');
    await writeFile(join(dataDir, 'usage/user/unknown/2025.year.json'), 'null');
    const store = await openJsonStore({ dataDir });
    // Readers come across the roll-ups: each damaged one fails only its own key.
    const months = await store
      .readMonths('PROJECT', '2025-09', ['Mantid', 'IDAaaS'])
      .catch((err: unknown) => err);
    expect(months).toBeInstanceOf(PartialReadError);
    const [mantid, idaaas] = (months as PartialReadError<MonthRollup>).results;
    expect(mantid).toEqual(new UnreadableDataError('PROJECT', 'Mantid', '2025-09'));
    expect(idaaas).toMatchObject({ level: 'PROJECT', key: 'IDAaaS', month: '2025-09' });
    await expect(store.readYears('USER', '2025', ['unknown'])).rejects.toBeInstanceOf(PartialReadError);
    // The batch reads the machine's day entry, as it rewrites that day.
    const report = await ingest(store, 0, 6);
    await store.close();
    expect(report.failed).toEqual([]);
    expect(await rollupDisagreements(dataDir)).toEqual([]);
    const quarantined = (await storeFiles(join(dataDir, 'quarantine'))).map((path) =>
      path.replace(/^[^/]+\//, ''),
    );
    expect(quarantined.sort()).toEqual(
      [
        machineDay,
        'usage/project/Mantid/2025/2025-09.month.json',
        'usage/user/unknown/2025.year.json',
      ].sort(),
    );
    const after = new Map(
      [...(await snapshotFiles(dataDir))].filter(([path]) => !path.startsWith('quarantine/')),
    );
    expect(after).toEqual(clean);
  });
});

describe('an unreadable workspace registry', () => {
  it('stops ingest with exit 2 and a message naming the file', async () => {
    const dir = await tempDir();
    const registry = join(dir, 'registry.json');
    await mkdir(registry);
    const configFile = join(dir, 'config.json');
    await writeFile(
      configFile,
      JSON.stringify({ workspaces: { file: registry }, store: { kind: 'json', dataDir: join(dir, 'data') } }),
    );
    const errors: string[] = [];
    const spy = jest
      .spyOn(process.stderr, 'write')
      .mockImplementation((chunk) => (errors.push(String(chunk)), true));
    try {
      expect(
        await main([
          'ingest',
          '--from',
          `${DATE}T00:00:00Z`,
          '--to',
          `${DATE}T01:00:00Z`,
          '--config',
          configFile,
        ]),
      ).toBe(2);
    } finally {
      spy.mockRestore();
    }
    expect(errors.join('')).toContain(`workspaces.file: cannot read ${registry} (EISDIR`);
  });
});
