import { graphql, type GraphQLSchema } from 'graphql';
import { join } from 'node:path';
import type { Principal } from '../../src/auth/principal';
import { buildAppSchema, createRequestContext } from '../../src/app-schema';
import { fixedClock } from '../../src/domain/clock';
import { LEVELS } from '../../src/domain/levels';
import { DAY_MS } from '../../src/domain/time';
import type { CpuSecondsSource, SourceHour } from '../../src/ingest/ports';
import { ingestRange } from '../../src/ingest/run';
import { silentLogger } from '../../src/log';
import { openJsonStore } from '../../src/store/json';
import { openPostgresStore } from '../../src/store/postgres';
import { storedKey } from '../../src/store/rules/keys';
import type { Store } from '../../src/store/store';
import { runCli } from '../support/cli';
import { directIngestDeps, hoursIn, tempDirs } from '../support/fake-ingest';
import { createTestDatabase, type TestDatabase } from '../support/postgres';

/**
 * A label value too long to name a store directory (over 255 bytes percent-encoded) is counted
 * under the same shortened key by either store (README, Attribution; contract section 9: the same
 * keys and ids from either store), so the two answer alike and copy to each other.
 */

const FROM = Date.parse('2025-03-10T00:00:00Z');
const TO = FROM + 2 * DAY_MS;
const LONG_PROJECT = `L${'x'.repeat(299)}`;
const LONG_MACHINE = `m${'研'.repeat(100)}`;
const SHORT_PROJECT = storedKey(LONG_PROJECT);
const admin: Principal = { kind: 'admin', name: 'ops' };

function longLabelSource(): CpuSecondsSource {
  return {
    async fetchHours(fromHour, toHour) {
      const out = new Map<number, SourceHour>();
      for (const hour of hoursIn(fromHour, toHour)) {
        out.set(hour, {
          status: 'ok',
          rows: [
            {
              hour,
              instance: 'vm-1:9100',
              labels: { cloud_project_name: LONG_PROJECT, machine_name: LONG_MACHINE },
              busyCpuSeconds: 1800,
              idleCpuSeconds: 1800,
            },
            {
              hour,
              instance: 'vm-2:9100',
              labels: { cloud_project_name: 'short', machine_name: 'plain' },
              busyCpuSeconds: 600,
              idleCpuSeconds: 3000,
            },
          ],
        });
      }
      return out;
    },
  };
}

const dirs = tempDirs('cl-long-keys-');
let schema: GraphQLSchema;
const databases: TestDatabase[] = [];

beforeAll(async () => {
  schema = await buildAppSchema();
});
afterAll(async () => {
  await Promise.all(databases.map((db) => db.drop()));
  dirs.cleanup();
});

async function database(): Promise<TestDatabase> {
  const db = await createTestDatabase('cl_longkeys');
  databases.push(db);
  return db;
}

async function open(location: string): Promise<Store> {
  return location.startsWith('postgres')
    ? openPostgresStore({ url: location })
    : openJsonStore({ dataDir: location });
}

async function query<T>(store: Store, source: string): Promise<T> {
  const answer = await graphql({
    schema,
    source,
    contextValue: createRequestContext({
      store,
      clock: fixedClock(TO + DAY_MS),
      log: silentLogger,
      principal: admin,
    }),
  });
  if (answer.errors) throw answer.errors[0];
  return answer.data as T;
}

/** What the API answers of the store: every level's keys, and the long project's series, ids and all. */
async function answers(location: string) {
  const store = await open(location);
  try {
    const keys: Record<string, string[]> = {};
    for (const level of LEVELS) {
      keys[level] = (await query<{ usageKeys: string[] }>(store, `{ usageKeys(level: ${level}) }`)).usageKeys;
    }
    const series = async (level: string, key: string, granularity: string) =>
      (
        await query<{ usageSeries: unknown }>(
          store,
          `{ usageSeries(level: ${level}, key: ${JSON.stringify(key)}, from: "2025-03-10T00:00:00Z",
             to: "2025-03-12T00:00:00Z", granularity: ${granularity}) {
             id key total { busyCpuSeconds idleCpuSeconds totalKwh totalGco2eq }
             buckets { id start status usage { busyCpuSeconds totalKwh totalGco2eq } } } }`,
        )
      ).usageSeries;
    return {
      keys,
      projectHours: await series('PROJECT', SHORT_PROJECT, 'HOUR'),
      projectDays: await series('PROJECT', SHORT_PROJECT, 'DAY'),
      machineDays: await series('MACHINE', storedKey(LONG_MACHINE), 'DAY'),
      asLabelled: await series('PROJECT', LONG_PROJECT, 'DAY'),
    };
  } finally {
    await store.close();
  }
}

async function ingestInto(location: string): Promise<void> {
  const store = await open(location);
  try {
    await ingestRange(directIngestDeps(store, longLabelSource(), { stepHours: 24 }), FROM, TO);
  } finally {
    await store.close();
  }
}

describe('a label value over 255 bytes percent-encoded, on both stores', () => {
  it('is counted under the same shortened key by either store, which answer the same keys, ids and figures', async () => {
    const jsonDir = join(dirs.make(), 'data');
    const db = await database();
    await ingestInto(jsonDir);
    await ingestInto(db.url);
    const json = await answers(jsonDir);
    const postgres = await answers(db.url);

    expect(SHORT_PROJECT).toMatch(/^Lx{237}~[0-9a-f]{16}$/);
    expect(json.keys.PROJECT).toEqual([SHORT_PROJECT, 'short'].sort());
    expect(json.keys.MACHINE).toContain(storedKey(LONG_MACHINE));
    expect(json.keys.MACHINE).not.toContain(LONG_MACHINE);
    const buckets = (json.projectHours as { buckets: Array<{ status: string }> }).buckets;
    expect(buckets).toHaveLength(48);
    expect(buckets.every((bucket) => bucket.status === 'OK')).toBe(true);
    // Asked as labelled, the long value is a key no store holds (README: ask in the shortened form).
    const asked = (json.asLabelled as { buckets: Array<{ status: string }> }).buckets;
    expect(asked.map((bucket) => bucket.status)).toEqual(['MISSING', 'MISSING']);
    expect(postgres).toEqual(json);
  }, 60_000);

  it('copies from PostgreSQL to JSON and back, each copy answering as its source', async () => {
    const db = await database();
    await ingestInto(db.url);
    const source = await answers(db.url);
    const jsonDir = join(dirs.make(), 'copy');
    const toJson = await runCli(['copy-store', '--from', db.url, '--to', jsonDir]);
    expect(toJson).toMatchObject({ code: 0 });
    expect(await answers(jsonDir)).toEqual(source);

    const back = await database();
    expect(await runCli(['copy-store', '--from', jsonDir, '--to', back.url])).toMatchObject({ code: 0 });
    // Ingesting the same hours again over the copy keeps one key and replaces each hour, none kept.
    const store = await openPostgresStore({ url: back.url });
    try {
      const report = await ingestRange(
        directIngestDeps(store, longLabelSource(), { stepHours: 24 }),
        FROM,
        TO,
      );
      expect(report.kept).toEqual([]);
    } finally {
      await store.close();
    }
    expect(await answers(back.url)).toEqual(source);
  }, 120_000);

  it('moves what an older PostgreSQL store kept under the full key to the shortened one when those hours are ingested again with --replace', async () => {
    const db = await database();
    await ingestInto(db.url);
    const expected = await answers(db.url);
    // As a store written before the rule was shared kept it: the value in full.
    await db.query("UPDATE usage_key SET key = $1 WHERE level = 'PROJECT' AND key = $2", [
      LONG_PROJECT,
      SHORT_PROJECT,
    ]);
    expect((await answers(db.url)).keys.PROJECT).toEqual([LONG_PROJECT, 'short'].sort());
    const store = await openPostgresStore({ url: db.url });
    try {
      await ingestRange(
        directIngestDeps(store, longLabelSource(), { stepHours: 24, replace: true }),
        FROM,
        TO,
      );
    } finally {
      await store.close();
    }
    expect(await answers(db.url)).toEqual(expected);
  }, 60_000);
});
