import { spawn } from 'node:child_process';
import fs, { chmodSync, chownSync, readdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

import { HOUR_MS } from '../../src/domain/time';
import { ingestRange } from '../../src/ingest/run';
import { openJsonStore } from '../../src/store/json';
import { directIngestDeps, tempDirs, twoProjectSource } from '../support/fake-ingest';
import { dayEntryPath, treeStamp } from '../support/store-files';

/**
 * A store its reader may not write (issue 14, item 6): after an ingestion the disk filled up
 * part-way, `serve` and `export` still open and answer, and a day file the server's account may
 * not read answers DATA_UNAVAILABLE. The commands run as an account without write permission
 * (as root, the test drops to `nobody`: root's reads and writes are never refused).
 */
const CLI = resolve(__dirname, '../../dist/cli.js');
const NOBODY = 65534;
const asReader = process.getuid?.() === 0 ? { uid: NOBODY, gid: NOBODY } : {};
const dirs = tempDirs('cl-unwritable-');
afterAll(() => dirs.cleanup());

const DATE = '2025-03-10';
const hourOf = (h: number) => Date.parse(`${DATE}T00:00:00Z`) + h * HOUR_MS;

const source = twoProjectSource();

/** Hours 00:00–04:00 stored; then an ingestion of 04:00–06:00 whose disk fills after its first day file. */
async function storeAfterDiskFull(dataDir: string): Promise<void> {
  const store = await openJsonStore({ dataDir });
  await ingestRange(directIngestDeps(store, source, { stepHours: 24 }), hourOf(0), hourOf(4));
  const realRename = fs.rename;
  let full = false;
  const spy = jest.spyOn(fs, 'rename').mockImplementation(((from, to, callback) => {
    if (full)
      return callback(Object.assign(new Error('ENOSPC: no space left on device'), { code: 'ENOSPC' }));
    if (String(to) === dayEntryPath(dataDir, 'PROJECT', 'P', DATE)) full = true;
    return realRename(from, to, callback);
  }) as typeof fs.rename);
  try {
    await expect(
      ingestRange(directIngestDeps(store, source, { stepHours: 24 }), hourOf(4), hourOf(6)),
    ).rejects.toThrow(/ENOSPC/);
  } finally {
    spy.mockRestore();
  }
  await store.close();
  expect(readdirSync(dataDir)).toContain('journal.json');
}

function run(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [CLI, ...args], { ...asReader, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  return new Promise((done) => child.on('exit', (code) => done({ code, stdout, stderr })));
}

async function serving(
  config: string,
): Promise<{ url: string; stop: () => Promise<void>; stderr: () => string }> {
  const child = spawn(process.execPath, [CLI, 'serve', '--no-schedule', '--port', '0', '--config', config], {
    ...asReader,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise((done) => child.on('exit', done));
  for (;;) {
    const match = /serving (http:\/\/\S+)/.exec(stderr);
    if (match)
      return {
        url: match[1],
        stop: async () => void (child.kill('SIGTERM'), await exited),
        stderr: () => stderr,
      };
    if (child.exitCode !== null) throw new Error(`serve exited early:\n${stderr}`);
    await new Promise((wait) => setTimeout(wait, 100));
  }
}

async function query(url: string, text: string) {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ query: text }),
  });
  return res.json();
}

const series = (key: string, granularity: string) => `{
  usageSeries(level: PROJECT, key: "${key}", from: "${DATE}T00:00:00Z", to: "2025-03-11T00:00:00Z", granularity: ${granularity}) {
    buckets { status usage { busyCpuSeconds } } total { busyCpuSeconds }
  }
}`;

/** A data directory every account may read and only root may write. */
function readOnlyFor(root: string): void {
  chmodSync(root, 0o755);
}

describe('a store after a disk-full ingestion, opened by an account that may not write it', () => {
  let root: string;
  let dataDir: string;
  let config: string;

  beforeAll(async () => {
    root = dirs.make();
    dataDir = join(root, 'data');
    await storeAfterDiskFull(dataDir);
    config = join(root, 'config.json');
    writeFileSync(config, JSON.stringify({ store: { kind: 'json', dataDir } }));
    readOnlyFor(root);
  });

  it('exports the recorded hours, writing nothing', async () => {
    const before = await treeStamp(dataDir);
    const exported = await run([
      'export',
      ...['--level', 'PROJECT', '--key', 'P', '--granularity', 'HOUR', '--format', 'json'],
      ...['--from', `${DATE}T00:00:00Z`, '--to', `${DATE}T06:00:00Z`, '--config', config],
    ]);
    expect({ code: exported.code, stderr: exported.code === 0 ? '' : exported.stderr }).toEqual({
      code: 0,
      stderr: '',
    });
    const answer = JSON.parse(exported.stdout);
    expect(answer.buckets.map((b: { status: string }) => b.status)).toEqual([
      ...Array(4).fill('OK'),
      ...Array(2).fill('MISSING'),
    ]);
    expect(answer.total.busyCpuSeconds).toBe(4 * 600);
    expect(await treeStamp(dataDir)).toEqual(before);
  });

  it('serves hours, days, months and years that agree, writing nothing', async () => {
    const before = await treeStamp(dataDir);
    const server = await serving(config);
    try {
      const totals: number[] = [];
      for (const granularity of ['HOUR', 'DAY', 'MONTH', 'YEAR']) {
        const answer = await query(server.url, series('P', granularity));
        expect(answer.errors).toBeUndefined();
        totals.push(answer.data.usageSeries.total.busyCpuSeconds);
      }
      expect(totals).toEqual(Array(4).fill(4 * 600));
    } finally {
      await server.stop();
    }
    expect(await treeStamp(dataDir)).toEqual(before);
  });
});

describe('a day file the server’s account may not read', () => {
  it('answers DATA_UNAVAILABLE for its key and serves the others', async () => {
    const root = dirs.make();
    const dataDir = join(root, 'data');
    const store = await openJsonStore({ dataDir });
    await ingestRange(directIngestDeps(store, source, { stepHours: 24 }), hourOf(0), hourOf(4));
    await store.close();
    const config = join(root, 'config.json');
    writeFileSync(config, JSON.stringify({ store: { kind: 'json', dataDir } }));
    readOnlyFor(root);
    const day = dayEntryPath(dataDir, 'PROJECT', 'P', DATE);
    // Owned by the reader, who may not read it: root alone is never refused.
    if (asReader.uid !== undefined) chownSync(day, asReader.uid, asReader.gid);
    chmodSync(day, 0o000);

    const server = await serving(config);
    try {
      const refused = await query(server.url, series('P', 'HOUR'));
      expect(refused.errors).toEqual([expect.objectContaining({ extensions: { code: 'DATA_UNAVAILABLE' } })]);
      const served = await query(server.url, series('Q', 'DAY'));
      expect(served.errors).toBeUndefined();
      expect(served.data.usageSeries.total.busyCpuSeconds).toBe(4 * 1200);
      expect(server.stderr()).toContain('EACCES');
    } finally {
      await server.stop();
    }
  });
});
