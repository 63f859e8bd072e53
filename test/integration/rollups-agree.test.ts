import { copyFile, readdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

import { HOUR_MS } from '../../src/domain/time';
import { ingestRange, type IngestReport } from '../../src/ingest/run';
import { openJsonStore, type JsonStore } from '../../src/store/json';
import { withWriter } from '../../src/store/store';
import { directIngestDeps, hoursIn, tempDirs, twoProjectSource } from '../support/fake-ingest';
import { startTestServer, type TestServer } from '../support/http';
import { plainStore } from '../support/json-store-fixture';
import { dayEntryPath, treeStamp } from '../support/store-files';
import { readerDisagreements, rollupDisagreements } from '../support/store-invariants';

/**
 * Roll-ups equal their days whenever a reader can see them, whatever happened (issue 14, item 5):
 * a quarantined day put back by hand, hours a quarantine or a lost ledger month turned failed, a
 * store read before any writer repairs it. Checked through the API (HOUR, DAY, MONTH and YEAR
 * totals), through the store's reads, and on the files.
 */
const dirs = tempDirs('cl-rollups-agree-');
afterAll(() => dirs.cleanup());

const DATES = ['2025-03-10', '2025-03-11'];
const DATE = DATES[0];
const hourOf = (date: string, h: number) => Date.parse(`${date}T00:00:00Z`) + h * HOUR_MS;

const source = twoProjectSource;

function ingest(
  store: JsonStore,
  from: number,
  to: number,
  failing?: ReadonlySet<number>,
): Promise<IngestReport> {
  return ingestRange(directIngestDeps(store, source(failing), { stepHours: 24 }), from, to);
}

async function query(server: TestServer, key: string, granularity: string) {
  const res = await fetch(server.url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      query: `{ usageSeries(level: PROJECT, key: "${key}", from: "2025-03-01T00:00:00Z", to: "2025-04-01T00:00:00Z", granularity: ${granularity}) {
        buckets { status } total { busyCpuSeconds } } }`,
    }),
  });
  const answer = await res.json();
  expect(answer.errors).toBeUndefined();
  return answer.data.usageSeries as { buckets: Array<{ status: string }>; total: { busyCpuSeconds: number } };
}

/** The busy CPU seconds of `key` as HOUR, DAY, MONTH and YEAR series total them. */
async function totalsAtEveryGranularity(server: TestServer, key: string): Promise<number[]> {
  const totals: number[] = [];
  for (const granularity of ['HOUR', 'DAY', 'MONTH', 'YEAR'])
    totals.push((await query(server, key, granularity)).total.busyCpuSeconds);
  return totals;
}

/** Every check that roll-ups equal their days: through the API, the store's reads and the files. */
async function expectLevel(server: TestServer, store: JsonStore, dataDir: string, checkFiles = true) {
  for (const key of ['P', 'Q']) {
    const totals = await totalsAtEveryGranularity(server, key);
    expect({ key, totals }).toEqual({ key, totals: Array(4).fill(totals[0]) });
  }
  expect(await readerDisagreements(plainStore(store), DATES)).toEqual([]);
  if (checkFiles) expect(await rollupDisagreements(dataDir)).toEqual([]);
}

describe('roll-ups equal their days', () => {
  let dataDir: string;
  let store: JsonStore;
  let server: TestServer;

  beforeEach(async () => {
    dataDir = join(dirs.make(), 'data');
    store = await openJsonStore({ dataDir });
    server = await startTestServer({ store: plainStore(store) });
    expect((await ingest(store, hourOf(DATES[0], 0), hourOf(DATES[1], 24))).failed).toEqual([]);
  });
  afterEach(async () => {
    await server.close();
    await store.close();
  });

  it('(a) after a quarantined day file is put back by hand and its day ingested again', async () => {
    const day = dayEntryPath(dataDir, 'PROJECT', 'P', DATE);
    await writeFile(day, '{ "cloud_project_name": "P", "date": ');
    await expect(store.readDays('PROJECT', DATE, ['P'])).rejects.toThrow();
    // The next writer moves it aside; the operator then puts the good file back by hand.
    const good = join(dirs.make(), 'good.json');
    await withWriter(store, { purpose: 'the next ingest' }, async () => undefined);
    const [stamp] = await readdir(join(dataDir, 'quarantine'));
    expect(stamp).toBeDefined();
    await rm(join(dataDir, 'quarantine'), { recursive: true });
    const fresh = join(dirs.make(), 'data');
    const clean = await openJsonStore({ dataDir: fresh });
    await ingest(clean, hourOf(DATES[0], 0), hourOf(DATES[1], 24));
    await clean.close();
    await copyFile(dayEntryPath(fresh, 'PROJECT', 'P', DATE), good);
    await copyFile(good, day);
    await expectLevel(server, store, dataDir, false);

    expect((await ingest(store, hourOf(DATE, 0), hourOf(DATE, 24))).failed).toEqual([]);
    await expectLevel(server, store, dataDir);
    expect(await totalsAtEveryGranularity(server, 'P')).toEqual(Array(4).fill(48 * 600));
  });

  it('(b) after a quarantine, MONTH and YEAR never count the hours DAY reports FAILED', async () => {
    await writeFile(dayEntryPath(dataDir, 'PROJECT', 'P', DATE), '[');
    await expect(store.readDays('PROJECT', DATE, ['P'])).rejects.toThrow();
    await withWriter(store, { purpose: 'the next ingest' }, async () => undefined);
    const daily = await query(server, 'Q', 'DAY');
    expect(daily.buckets.slice(9, 11).map((b) => b.status)).toEqual(['FAILED', 'OK']);
    // Q keeps its figures for the failed date, but no level counts them.
    expect(await totalsAtEveryGranularity(server, 'Q')).toEqual(Array(4).fill(24 * 1200));
    await expectLevel(server, store, dataDir);
  });

  it('(b) after a lost ledger month, and a failed retry, no level counts the hours the ledger lost', async () => {
    await rm(join(dataDir, 'ledger/2025/2025-03.json'));
    // Read before any writer: the hours have no record, and no level counts them.
    expect(await totalsAtEveryGranularity(server, 'Q')).toEqual(Array(4).fill(0));
    await expectLevel(server, store, dataDir, false);
    const failing = new Set(hoursIn(hourOf(DATE, 0), hourOf(DATE, 24)));
    expect((await ingest(store, hourOf(DATE, 0), hourOf(DATE, 24), failing)).failed).toHaveLength(24);
    // The writer first took the month's unrecorded figures out (kept under quarantine/): Q is no
    // longer a key the store knows, so its days read MISSING, and no level counts them.
    const daily = await query(server, 'Q', 'DAY');
    expect(daily.buckets.slice(9, 11).map((b) => b.status)).toEqual(['MISSING', 'MISSING']);
    expect(await totalsAtEveryGranularity(server, 'Q')).toEqual(Array(4).fill(0));
    expect(await readdir(join(dataDir, 'quarantine'))).toHaveLength(1);
    await expectLevel(server, store, dataDir);
    // The other date is ingested again: every level counts it, and only it.
    expect((await ingest(store, hourOf(DATES[1], 0), hourOf(DATES[1], 24))).failed).toEqual([]);
    expect(await totalsAtEveryGranularity(server, 'Q')).toEqual(Array(4).fill(24 * 1200));
    await expectLevel(server, store, dataDir);
  });

  it('(c) is read so by a server while an ingestion killed part-way has left its journal', async () => {
    // What a batch killed after writing its days, before its roll-ups, leaves: the journal names
    // the month, whose roll-up is behind (here, without the second date).
    const month = join(dataDir, 'usage/project/P/2025/2025-03.month.json');
    const behind = join(dirs.make(), 'behind.json');
    const earlier = join(dirs.make(), 'data');
    const early = await openJsonStore({ dataDir: earlier });
    await ingest(early, hourOf(DATES[0], 0), hourOf(DATES[0], 24));
    await early.close();
    await copyFile(join(earlier, 'usage/project/P/2025/2025-03.month.json'), behind);
    await copyFile(behind, month);
    await writeFile(
      join(dataDir, 'journal.json'),
      JSON.stringify({ months: [{ level: 'PROJECT', key: 'P', month: '2025-03' }] }),
    );
    const before = await treeStamp(dataDir);
    const reader = await openJsonStore({ dataDir });
    const readerServer = await startTestServer({ store: plainStore(reader) });
    try {
      await expectLevel(readerServer, reader, dataDir, false);
      expect(await totalsAtEveryGranularity(readerServer, 'P')).toEqual(Array(4).fill(48 * 600));
      expect(await treeStamp(dataDir)).toEqual(before);
    } finally {
      await readerServer.close();
      await reader.close();
    }
  });
});
