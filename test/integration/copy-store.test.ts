import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { Figures } from '../../src/domain/figures';
import { LEVELS, type Level } from '../../src/domain/levels';
import { DAY_MS, HOUR_MS, utcDate } from '../../src/domain/time';
import { ingestRange } from '../../src/ingest/run';
import type { CpuSecondsSource, SourceHour } from '../../src/ingest/ports';
import { openJsonStore } from '../../src/store/json';
import { openPostgresStore } from '../../src/store/postgres';
import type { Store } from '../../src/store/store';
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

/** What a reader of the store sees: every day, month and year of every key, the ledger's statuses, the indexes. */
async function contents(store: Store) {
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
  };
}

function copyCli(from: string, to: string) {
  return runCli(['copy-store', '--from', from, '--to', to]);
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
      reference = await contents(json);
    } finally {
      await json.close();
    }
    expect(reference.ledger.filter(([, status]) => status === 'failed')).toHaveLength(FAILING.size);
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
      return await contents(opened);
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
      `copied ${hours} hours (${hours - FAILING.size} ok, ${FAILING.size} failed) in ${DAYS} days; ` +
        'keys: PROJECT 3, EXPERIMENT 1, MACHINE 2, USER 1, INSTANCE 4',
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
      /\nalso copied: 0 instance host histories, 0 sink deliveries, \d+ days of usage by project and user\n/,
    );
    expect(await contentsOf(db.url)).toEqual(reference);

    const back = join(dir, 'back');
    const toJson = await copyCli(db.url, back);
    expect(toJson).toMatchObject({ code: 0 });
    expect(await contentsOf(back)).toEqual(reference);
  }, 240_000);

  it('resumes a copy killed part-way at the last day it wrote, and leaves only whole days meanwhile', async () => {
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
    const lastDay = utcDate(FROM + (partial[0].days - 1) * DAY_MS);
    expect(resumed.stdout).toContain(`in ${DAYS - partial[0].days + 1} days (resumed at ${lastDay})`);
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
});
