import fs from 'node:fs';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

import { HOUR_MS } from '../../src/domain/time';
import { ingestRange, type IngestReport } from '../../src/ingest/run';
import { jsonLogger } from '../../src/log';
import { openJsonStore, type JsonStore } from '../../src/store/json';
import { directIngestDeps, ledgerBetween, tempDirs, twoProjectSource } from '../support/fake-ingest';
import { startTestServer, type TestServer } from '../support/http';
import { plainStore } from '../support/json-store-fixture';
import { dayEntryPath, treeStamp } from '../support/store-files';
import { readerDisagreements, rollupDisagreements, storeFiles } from '../support/store-invariants';

/**
 * Damage that must never stop the service (issue 14, item 6): a day entry this account may not
 * read, garbage in the journal or in the access index. Each is named in the log, read around or
 * moved aside; the server answers and ingestion goes on.
 */
const dirs = tempDirs('cl-store-damage-');
afterAll(() => dirs.cleanup());

const DATE = '2025-03-10';
const at = (iso: string) => Date.parse(iso);
const hourOf = (h: number) => at(`${DATE}T00:00:00Z`) + h * HOUR_MS;

const source = twoProjectSource();

function logged() {
  const lines: Array<Record<string, unknown>> = [];
  return { lines, log: jsonLogger((line) => lines.push(JSON.parse(line))) };
}

async function ingest(store: JsonStore, from: number, to: number, log = logged().log): Promise<IngestReport> {
  return ingestRange(directIngestDeps(store, source, { stepHours: 24, log }), from, to);
}

async function storeWithHours(fromHour: number, toHour: number): Promise<string> {
  const dataDir = join(dirs.make(), 'data');
  const store = await openJsonStore({ dataDir });
  expect((await ingest(store, hourOf(fromHour), hourOf(toHour))).failed).toEqual([]);
  await store.close();
  return dataDir;
}

async function query(server: TestServer, text: string) {
  const res = await fetch(server.url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ query: text }),
  });
  expect(res.status).toBe(200);
  return res.json();
}

const series = (key: string, granularity: string, level = 'PROJECT') => `{
  usageSeries(level: ${level}, key: "${key}", from: "${DATE}T00:00:00Z", to: "2025-03-11T00:00:00Z", granularity: ${granularity}) {
    buckets { status usage { busyCpuSeconds } } total { busyCpuSeconds }
  }
}`;

/**
 * Reads of the file now at `path` fail as a file this account may not read does (tests run as
 * root, whom chmod does not stop); a new file written in its place reads as usual.
 */
function unreadable(path: string): jest.SpyInstance {
  const realReadFile = fs.readFile;
  const denied = fs.statSync(path).ino;
  return jest.spyOn(fs, 'readFile').mockImplementation(((file: unknown, ...rest: unknown[]) => {
    const callback = rest[rest.length - 1] as (err: Error | null) => void;
    if (String(file) === path && fs.statSync(path, { throwIfNoEntry: false })?.ino === denied)
      return callback(
        Object.assign(new Error(`EACCES: permission denied, open '${path}'`), { code: 'EACCES' }),
      );
    return (realReadFile as (...args: unknown[]) => void)(file, ...rest);
  }) as typeof fs.readFile);
}

describe('a day entry this account may not read (EACCES)', () => {
  let dataDir: string;
  let store: JsonStore;
  let server: TestServer;
  let denied: jest.SpyInstance;
  const path = () => dayEntryPath(dataDir, 'PROJECT', 'P', DATE);

  beforeAll(async () => {
    dataDir = await storeWithHours(0, 4);
    store = await openJsonStore({ dataDir });
    server = await startTestServer({ store: plainStore(store) });
    denied = unreadable(path());
  });
  afterAll(async () => {
    denied.mockRestore();
    await server.close();
    await store.close();
  });

  it('answers DATA_UNAVAILABLE for that key, and the other key as usual', async () => {
    const refused = await query(server, series('P', 'HOUR'));
    expect(refused.errors).toEqual([expect.objectContaining({ extensions: { code: 'DATA_UNAVAILABLE' } })]);
    const served = await query(server, series('Q', 'DAY'));
    expect(served.errors).toBeUndefined();
    expect(served.data.usageSeries.total.busyCpuSeconds).toBe(4 * 1200);
  });

  it('is moved aside by an ingestion of that date, whose other hours are failed with the reason', async () => {
    const report = await ingest(store, hourOf(4), hourOf(6));
    expect(report.failed).toEqual([]);
    const ledger = await ledgerBetween(store, hourOf(0), hourOf(6));
    for (const h of [0, 1, 2, 3]) {
      expect(ledger.get(hourOf(h))).toMatchObject({
        status: 'failed',
        error: expect.stringMatching(
          /^the stored day entry of PROJECT "P" could not be read \(this account may not read it \(EACCES\); moved to quarantine\/.+\); ingest 2025-03-10 again$/,
        ),
      });
    }
    for (const h of [4, 5]) expect(ledger.get(hourOf(h))?.status).toBe('ok');
    expect((await storeFiles(join(dataDir, 'quarantine'))).map((p) => p.replace(/^[^/]+\//, ''))).toEqual([
      `usage/project/P/2025/${DATE}.json`,
    ]);
    expect(await rollupDisagreements(dataDir)).toEqual([]);
    const hourly = await query(server, series('P', 'HOUR'));
    expect(hourly.errors).toBeUndefined();
    expect(hourly.data.usageSeries.buckets.slice(0, 6).map((b: { status: string }) => b.status)).toEqual([
      'FAILED',
      'FAILED',
      'FAILED',
      'FAILED',
      'OK',
      'OK',
    ]);
  });

  it('is restored by ingesting the failed hours again', async () => {
    expect((await ingest(store, hourOf(0), hourOf(4))).failed).toEqual([]);
    const daily = await query(server, series('P', 'DAY'));
    expect(daily.data.usageSeries.total.busyCpuSeconds).toBe(6 * 600);
    expect(await readerDisagreements(plainStore(store), [DATE])).toEqual([]);
  });
});

describe('garbage in journal.json', () => {
  it('is read around (months from their days), and replaced by the next ingestion, which rebuilds every roll-up', async () => {
    const dataDir = await storeWithHours(0, 2);
    const monthPath = join(dataDir, 'usage/project/P/2025/2025-03.month.json');
    const behind = await readFile(monthPath, 'utf8');
    const store = await openJsonStore({ dataDir });
    expect((await ingest(store, hourOf(2), hourOf(4))).failed).toEqual([]);
    // As a batch stopped part-way leaves it: the month behind its days, and a journal, here garbage.
    await writeFile(monthPath, behind);
    await writeFile(join(dataDir, 'journal.json'), '{"months": [{"level": "PRO');
    expect(await rollupDisagreements(dataDir)).not.toEqual([]);

    const { lines, log } = logged();
    const reader = await openJsonStore({ dataDir, log });
    const server = await startTestServer({ store: plainStore(reader) });
    try {
      const before = await treeStamp(dataDir);
      const monthly = await query(server, series('P', 'MONTH'));
      expect(monthly.errors).toBeUndefined();
      expect(monthly.data.usageSeries.total.busyCpuSeconds).toBe(4 * 600);
      expect(await readerDisagreements(plainStore(reader), [DATE])).toEqual([]);
      expect(await treeStamp(dataDir)).toEqual(before);
      expect(lines).toContainEqual(
        expect.objectContaining({ level: 'error', path: join(dataDir, 'journal.json') }),
      );

      expect((await ingest(reader, hourOf(4), hourOf(5))).failed).toEqual([]);
      expect(await rollupDisagreements(dataDir)).toEqual([]);
      expect(await readdir(dataDir)).not.toContain('journal.json');
      const kept = await storeFiles(join(dataDir, 'quarantine'));
      expect(kept.map((p) => p.replace(/^[^/]+\//, ''))).toEqual(['journal.json']);
      expect((await query(server, series('P', 'MONTH'))).data.usageSeries.total.busyCpuSeconds).toBe(5 * 600);
    } finally {
      await server.close();
      await reader.close();
      await store.close();
    }
  });
});

describe('garbage in index/instance-projects.json', () => {
  it('is reported and left for an operator; ingestion goes on and the server answers', async () => {
    const dataDir = await storeWithHours(0, 2);
    const indexPath = join(dataDir, 'index/instance-projects.json');
    await writeFile(indexPath, '{"vm-0:9100": [1, 2');
    const { lines, log } = logged();
    const store = await openJsonStore({ dataDir, log });
    const server = await startTestServer({ store: plainStore(store) });
    try {
      expect(await store.readInstanceProjects()).toEqual(new Map());
      const report = await ingest(store, hourOf(2), hourOf(4), log);
      expect(report.failed).toEqual([]);
      expect(report.okHours).toBe(2);
      expect(lines).toContainEqual(
        expect.objectContaining({ level: 'error', msg: expect.stringContaining('access index is damaged') }),
      );
      expect(await readFile(indexPath, 'utf8')).toBe('{"vm-0:9100": [1, 2');
      const hourly = await query(server, series('vm-0:9100', 'DAY', 'INSTANCE'));
      expect(hourly.errors).toBeUndefined();
      expect(hourly.data.usageSeries.total.busyCpuSeconds).toBe(4 * 600);
      expect((await fetch(`${server.origin}/readyz`)).status).toBe(200);
    } finally {
      await server.close();
      await store.close();
    }
  });
});
