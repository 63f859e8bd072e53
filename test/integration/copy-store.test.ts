import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdir, mkdtemp, readdir, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseConfig } from '../../src/config';
import type { Figures } from '../../src/domain/figures';
import { LEVELS, type Level } from '../../src/domain/levels';
import { DAY_MS, HOUR_MS, utcDate } from '../../src/domain/time';
import { ingestRange } from '../../src/ingest/run';
import type { CpuSecondsSource, SourceHour } from '../../src/ingest/ports';
import { silentLogger } from '../../src/log';
import { summariseDate } from '../../src/plugins/summaries/summarise';
import { summaryStoresFor } from '../../src/store/capabilities';
import { copyStore } from '../../src/store/copy';
import { openJsonStore } from '../../src/store/json';
import { openPostgresStore } from '../../src/store/postgres';
import { withWriter, type Store } from '../../src/store/store';
import { runCli } from '../support/cli';
import { directIngestDeps, hoursIn } from '../support/fake-ingest';
import { createTestDatabase, type TestDatabase } from '../support/postgres';

const ROOT = resolve(__dirname, '../..');
const FROM = Date.parse('2025-03-01T00:00:00Z');
const DAYS = 30;
const TO = FROM + DAYS * DAY_MS;
/** Three hours the source could not answer, on the third day. */
const FAILING = new Set([50, 51, 52].map((i) => FROM + i * HOUR_MS));

/** Four instances in three projects and two machine types, each hour's figures different. */
function fleetSource(): CpuSecondsSource {
  return {
    async fetchHours(fromHour, toHour) {
      const out = new Map<number, SourceHour>();
      for (const hour of hoursIn(fromHour, toHour)) {
        if (FAILING.has(hour)) {
          out.set(hour, { status: 'failed', error: 'Prometheus answered 503' });
          continue;
        }
        const rows = [1, 2, 3, 4]
          // vm-4 starts on the tenth day: a key first seen part-way.
          .filter((i) => i !== 4 || hour >= FROM + 9 * DAY_MS)
          .map((i) => ({
            hour,
            instance: `vm-${i}:9100`,
            labels: { cloud_project_name: ['alpha', 'beta', 'gamma'][i % 3], machine_name: `type ${i % 2}` },
            busyCpuSeconds: ((hour / HOUR_MS) * 37 * i) % 3600,
            idleCpuSeconds: 3600 - (((hour / HOUR_MS) * 37 * i) % 3600),
          }));
        out.set(hour, { status: 'ok', rows });
      }
      return out;
    },
  };
}

/** The summary stores of an opened store, as copy-store picks them. */
function summariesOf(store: Store, name: string) {
  return summaryStoresFor(
    store,
    name.startsWith('postgres') ? { kind: 'postgres', dataDir: '' } : { kind: 'json', dataDir: name },
  );
}

/**
 * What a reader of the store sees: every day, month and year of every key, the ledger's statuses,
 * the indexes, the daily summaries and the users' summary email choices.
 */
async function contents(store: Store, name: string) {
  const summaries = summariesOf(store, name);
  const summaryDays = await summaries.summaries.days();
  const dates = Array.from({ length: DAYS }, (_, i) => utcDate(FROM + i * DAY_MS));
  const levels: Array<[Level, unknown]> = [];
  for (const level of LEVELS) {
    const keys = await store.listKeys(level);
    levels.push([
      level,
      {
        keys,
        days: await Promise.all(dates.map((date) => store.readDays(level, date, keys))),
        months: await store.readMonths(level, '2025-03', keys),
        years: await store.readYears(level, '2025', keys),
      },
    ]);
  }
  const ledger = [...(await store.readLedger(FROM, TO))].map(([hour, record]) => [
    hour,
    record.status,
    record.status === 'ok' ? record.intensity : record.error,
  ]);
  return {
    levels,
    ledger,
    projects: [...(await store.readInstanceProjects())].map(([i, p]) => [i, [...p].sort()]).sort(),
    instances: await store.instances.list(FROM, TO),
    summaries: await Promise.all(summaryDays.map((date) => summaries.summaries.readDay(date))),
    subscribers: [...(await summaries.subscribers.list())].sort(),
  };
}

/** Summarises every day of the store, and lists a user's own summary email choice. */
async function summarise(store: Store, name: string): Promise<void> {
  const summaries = summariesOf(store, name);
  for (let i = 0; i < DAYS; i++) await summariseDate(store, summaries.summaries, utcDate(FROM + i * DAY_MS));
  const [user] = await store.listKeys('USER');
  await summaries.subscribers.set(user, 'someone@example.org');
}

function copyCli(from: string, to: string, ...flags: string[]) {
  return runCli(['copy-store', '--from', from, '--to', to, ...flags]);
}

describe('carbonledger copy-store', () => {
  let dir: string;
  let source: string;
  let reference: Awaited<ReturnType<typeof contents>>;
  const databases: TestDatabase[] = [];

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'carbonledger-copy-'));
    source = join(dir, 'source');
    const json = await openJsonStore({ dataDir: source });
    try {
      await ingestRange(directIngestDeps(json, fleetSource(), { stepHours: 24 }), FROM, TO);
      await summarise(json, source);
      reference = await contents(json, source);
    } finally {
      await json.close();
    }
    expect(reference.ledger.filter(([, status]) => status === 'failed')).toHaveLength(FAILING.size);
    expect(reference.summaries).toHaveLength(DAYS);
    expect(reference.subscribers).toHaveLength(1);
  }, 120_000);

  afterAll(async () => {
    await Promise.all(databases.map((db) => db.drop()));
    await rm(dir, { recursive: true, force: true });
  });

  async function database(): Promise<TestDatabase> {
    const db = await createTestDatabase('cl_copy');
    databases.push(db);
    return db;
  }

  async function contentsOf(store: string): Promise<Awaited<ReturnType<typeof contents>>> {
    const opened = store.startsWith('postgres')
      ? await openPostgresStore({ url: store })
      : await openJsonStore({ dataDir: store });
    try {
      return await contents(opened, store);
    } finally {
      await opened.close();
    }
  }

  it('copies JSON to PostgreSQL and back, says what it copied, and each copy answers as the source', async () => {
    const db = await database();
    const toPostgres = await copyCli(source, db.url);
    expect(toPostgres).toMatchObject({ code: 0 });
    const hours = DAYS * 24;
    expect(toPostgres.stdout).toContain(
      `copied ${hours} hours in ${DAYS} days; the target holds ${hours} hours ` +
        `(${hours - FAILING.size} ok, ${FAILING.size} failed); keys: PROJECT 3, EXPERIMENT 1, MACHINE 2, USER 1, INSTANCE 4`,
    );
    const kwh = /verified: hours, keys and every year's totals equal; all projects: ([\d.]+) kWh CPU/.exec(
      toPostgres.stdout,
    );
    const projectYears = (reference.levels[0][1] as { years: Array<{ totals: { all: Figures } }> }).years;
    const sourceKwh = projectYears.reduce(
      (sum, year) => sum + year.totals.all.busyKwh + year.totals.all.idleKwh,
      0,
    );
    expect(Number(kwh?.[1])).toBeCloseTo(sourceKwh, 6);
    // What plugins keep beside the figures goes too (test/unit/store/capabilities.test.ts copies each).
    expect(toPostgres.stdout).toMatch(
      new RegExp(
        '\nalso copied: 0 instance host histories, 0 sink deliveries, \\d+ days of usage by project and user, ' +
          `${DAYS} days of daily summaries, 1 users' summary email choices\n`,
      ),
    );
    expect(await contentsOf(db.url)).toEqual(reference);

    const back = join(dir, 'back');
    const toJson = await copyCli(db.url, back);
    expect(toJson).toMatchObject({ code: 0 });
    expect(await contentsOf(back)).toEqual(reference);
  }, 240_000);

  it('resumes a copy killed part-way at the first day it had not written, and leaves only whole days meanwhile', async () => {
    const db = await database();
    const child = spawn(
      process.execPath,
      ['-r', './test/support/swc-register.js', 'src/cli.ts', 'copy-store', '--from', source, '--to', db.url],
      { cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe'] },
    );
    let days = 0;
    child.stderr!.on('data', (chunk: Buffer) => {
      days += chunk.toString().split('"msg":"copied day"').length - 1;
      if (days >= 3) child.kill('SIGKILL');
    });
    const [, signal] = await once(child, 'exit');
    expect(signal).toBe('SIGKILL');
    const partial = await db.query<{ hours: number; days: number }>(
      `SELECT count(*)::int AS hours, count(DISTINCT date_trunc('day', hour, 'UTC'))::int AS days FROM ledger_hour`,
    );
    // Whole days only: every day written holds its 24 hours.
    expect(partial[0].hours).toBe(partial[0].days * 24);
    expect(partial[0].days).toBeGreaterThanOrEqual(3);
    expect(partial[0].days).toBeLessThan(DAYS);

    const resumed = await copyCli(source, db.url);
    expect(resumed).toMatchObject({ code: 0 });
    const firstLacking = utcDate(FROM + partial[0].days * DAY_MS);
    expect(resumed.stdout).toContain(
      `in ${DAYS - partial[0].days} days (resumed at ${firstLacking}; the target held ${partial[0].hours} hours before)`,
    );
    expect(await contentsOf(db.url)).toEqual(reference);
  }, 240_000);

  it('refuses a target holding other data, and the same store on both sides (exit 2, naming why)', async () => {
    const other = join(dir, 'other');
    const json = await openJsonStore({ dataDir: other });
    try {
      const shifted = FROM + 40 * DAY_MS;
      await ingestRange(directIngestDeps(json, fleetSource(), { stepHours: 24 }), shifted, shifted + DAY_MS);
    } finally {
      await json.close();
    }
    const refused = await copyCli(source, other);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(
      /--to: the target holds the hour 2025-04-10T00:00:00.000Z that the source does not/,
    );
    const same = await copyCli(source, join(source, '.'));
    expect(same).toMatchObject({
      code: 2,
      stderr: expect.stringContaining('--from and --to name the same store'),
    });
    const missing = await copyCli(join(dir, 'nothing'), other);
    expect(missing).toMatchObject({ code: 2, stderr: expect.stringContaining('does not exist') });
  }, 120_000);

  /** A JSON store of the source's first `days` days ingested with other figures (another energy model). */
  async function otherFigures(name: string, days: number): Promise<string> {
    const dataDir = join(dir, name);
    const json = await openJsonStore({ dataDir });
    try {
      const energy = parseConfig({ energy: { default: { busyWattsPerCore: 20 } } }).energy;
      await ingestRange(
        directIngestDeps(json, fleetSource(), { stepHours: 24, energy }),
        FROM,
        FROM + days * DAY_MS,
      );
    } finally {
      await json.close();
    }
    return dataDir;
  }

  it('refuses, writing nothing, a target holding other figures over the same hours (JSON and PostgreSQL)', async () => {
    const other = await otherFigures('other-figures', 2);
    const before = await contentsOf(other);
    const refused = await copyCli(source, other);
    expect(refused).toMatchObject({ code: 2, stdout: '' });
    expect(refused.stderr).toContain(
      '--to: the target\'s figures of PROJECT "alpha" at 2025-03-01T00:00:00.000Z differ from the source\'s',
    );
    expect(await contentsOf(other)).toEqual(before);

    const db = await database();
    expect(await copyCli(other, db.url)).toMatchObject({ code: 0 });
    const held = await contentsOf(db.url);
    const refusedByDb = await copyCli(source, db.url);
    expect(refusedByDb).toMatchObject({ code: 2 });
    expect(refusedByDb.stderr).toContain("differ from the source's");
    expect(await contentsOf(db.url)).toEqual(held);
  }, 240_000);

  it("refuses a target whose daily summaries are not the source's, writing nothing", async () => {
    const target = join(dir, 'other-summaries');
    // An earlier copy of the source, but with a day summarised from other figures.
    expect(await copyCli(source, target)).toMatchObject({ code: 0 });
    const json = await openJsonStore({ dataDir: target });
    try {
      const [first] = reference.summaries as Array<{ records: Array<{ figures: Figures }> }>;
      const record = { ...first.records[0], figures: { ...first.records[0].figures, busyKwh: 1 } };
      await summariesOf(json, target).summaries.replaceDay('2025-03-01', true, [record] as never);
    } finally {
      await json.close();
    }
    const before = await contentsOf(target);
    const refused = await copyCli(source, target);
    expect(refused).toMatchObject({ code: 2 });
    expect(refused.stderr).toContain(
      "--to: the target's daily summaries of 2025-03-01 differ from the source's",
    );
    expect(await contentsOf(target)).toEqual(before);
  }, 240_000);

  it('resumes a copy from PostgreSQL into JSON stopped part-way', async () => {
    const db = await database();
    expect(await copyCli(source, db.url)).toMatchObject({ code: 0 });
    const target = join(dir, 'partial-json');
    const pg = await openPostgresStore({ url: db.url });
    const json = await openJsonStore({ dataDir: target });
    try {
      const stop = new AbortController();
      let days = 0;
      const log = {
        ...silentLogger,
        info(msg: string) {
          if (msg === 'copied day' && ++days === 4) stop.abort();
        },
      };
      await expect(
        withWriter(json, { purpose: 'test' }, (writer) =>
          copyStore(pg, json, writer, { log, signal: stop.signal }),
        ),
      ).rejects.toThrow();
    } finally {
      await json.close();
      await pg.close();
    }
    const resumed = await copyCli(db.url, target);
    expect(resumed).toMatchObject({ code: 0 });
    expect(resumed.stdout).toContain(
      `in ${DAYS - 4} days (resumed at 2025-03-05; the target held 96 hours before)`,
    );
    expect(await contentsOf(target)).toEqual(reference);
    // Run again: nothing lacking, nothing written, said so.
    const again = await copyCli(db.url, target);
    expect(again).toMatchObject({ code: 0 });
    expect(again.stdout).toContain(
      `nothing to copy: the target held all ${DAYS * 24} hours already; the target holds ${DAYS * 24} hours`,
    );
  }, 240_000);

  it('knows the same store named two ways (a symbolic link; localhost for 127.0.0.1), exit 2', async () => {
    const link = join(dir, 'link-to-source');
    await symlink(source, link);
    const viaLink = await copyCli(source, link, '--lock-wait', '1');
    expect(viaLink).toMatchObject({ code: 2, stderr: expect.stringContaining('name the same store') });

    const db = await database();
    expect(await copyCli(source, db.url)).toMatchObject({ code: 0 });
    const url = new URL(db.url);
    expect(url.hostname).toBe('127.0.0.1');
    url.hostname = 'localhost';
    url.port = '';
    const same = await copyCli(db.url, url.toString(), '--lock-wait', '1');
    expect(same).toMatchObject({ code: 2, stderr: expect.stringContaining('name the same store') });
  }, 240_000);

  it('refuses a non-empty directory that holds no store, writing nothing into it', async () => {
    const workdir = join(dir, 'someone-elses');
    await mkdir(workdir);
    await writeFile(join(workdir, 'notes.txt'), 'mine\n');
    const refused = await copyCli(source, workdir);
    expect(refused).toMatchObject({ code: 2 });
    expect(refused.stderr).toContain(`--to: ${workdir} is not empty and holds no store`);
    expect(await readdir(workdir)).toEqual(['notes.txt']);
    // An empty directory is a new store.
    const empty = join(dir, 'empty');
    await mkdir(empty);
    expect(await copyCli(source, empty)).toMatchObject({ code: 0 });
  }, 240_000);

  it('completes a copy whose source gained older hours and filled a gap since (exit 0, equal stores)', async () => {
    const grown = join(dir, 'grown');
    const ingest = async (fromDay: number, toDay: number): Promise<void> => {
      const json = await openJsonStore({ dataDir: grown });
      try {
        const deps = directIngestDeps(json, fleetSource(), { stepHours: 24 });
        await ingestRange(deps, FROM + fromDay * DAY_MS, FROM + toDay * DAY_MS);
      } finally {
        await json.close();
      }
    };
    // Days 10–11 and 13–14 copied; then days 5–6 (older than any copied) and 12 (a gap) backfilled.
    await ingest(10, 12);
    await ingest(13, 15);
    const db = await database();
    expect(await copyCli(grown, db.url)).toMatchObject({ code: 0 });
    await ingest(5, 7);
    await ingest(12, 13);
    const resumed = await copyCli(grown, db.url);
    expect(resumed).toMatchObject({ code: 0, stderr: expect.not.stringContaining('differ') });
    // From the earliest day lacking: days 5–6 and 10–14, written again whole.
    expect(resumed.stdout).toContain(
      'copied 168 hours in 7 days (resumed at 2025-03-06; the target held 96 hours before)',
    );
    expect(await contentsOf(db.url)).toEqual(await contentsOf(grown));
    const again = await copyCli(grown, db.url);
    expect(again).toMatchObject({ code: 0 });
    expect(again.stdout).toContain('nothing to copy: the target held all 168 hours already');
  }, 240_000);

  it('refuses a database holding tables but no store, writing nothing (exit 2)', async () => {
    const db = await database();
    await db.query('CREATE TABLE invoices (id integer PRIMARY KEY)');
    const refused = await copyCli(source, db.url);
    expect(refused).toMatchObject({ code: 2, stdout: '' });
    expect(refused.stderr).toContain(`--to: the database "${db.name}" is not empty and holds no store`);
    const tables = await db.query<{ tablename: string }>(
      "SELECT tablename FROM pg_tables WHERE schemaname = 'public'",
    );
    expect(tables.map((row) => row.tablename)).toEqual(['invoices']);
  }, 120_000);

  it('refuses a source database that does not exist or holds no store, creating nothing anywhere (exit 2)', async () => {
    const to = join(dir, 'never-created');
    const url = new URL((await database()).url);
    url.pathname = '/cl_copy_nosuch_database';
    const missing = await copyCli(url.toString(), to);
    expect(missing).toMatchObject({ code: 2, stdout: '' });
    expect(missing.stderr).toBe(
      'carbonledger copy-store: --from: the database "cl_copy_nosuch_database" does not exist\n',
    );
    const empty = await database();
    const nothing = await copyCli(empty.url, to);
    expect(nothing).toMatchObject({ code: 2, stdout: '' });
    expect(nothing.stderr).toContain(`--from: the database "${empty.name}" holds no store`);
    expect(await empty.query("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")).toEqual([]);
    await expect(readdir(to)).rejects.toMatchObject({ code: 'ENOENT' });

    const newer = await database();
    expect(await copyCli(source, newer.url)).toMatchObject({ code: 0 });
    await newer.query("INSERT INTO schema_migration (version, name) VALUES (100000, 'from the future')");
    const tooNew = await copyCli(newer.url, to);
    expect(tooNew.code).toBe(1);
    expect(tooNew.stderr).toContain("--from: the database's schema is at version 100000, newer than");
    await expect(readdir(to)).rejects.toMatchObject({ code: 'ENOENT' });
  }, 240_000);
});
