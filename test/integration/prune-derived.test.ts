import { graphql, type GraphQLSchema } from 'graphql';
import type { Principal } from '../../src/auth/principal';
import { buildAppSchema, createRequestContext } from '../../src/app-schema';
import { parseConfig } from '../../src/config';
import { fixedClock } from '../../src/domain/clock';
import { DAY_MS, utcDate } from '../../src/domain/time';
import { ingestRange } from '../../src/ingest/run';
import { silentLogger } from '../../src/log';
import { daysToSummarise, summariseDate } from '../../src/plugins/summaries/summarise';
import { openPostgresStore, pruneBefore, type PostgresStore } from '../../src/store/postgres';
import { directIngestDeps } from '../support/fake-ingest';
import { createTestDatabase, type TestDatabase } from '../support/postgres';
import { summaryFleet } from '../support/summary-fleet';

/**
 * `prune --before M` forgets what was made of the hours it forgets (PostgreSQL; the JSON store has
 * no prune): the daily summaries of their days (contract section 11) and their usage by project and
 * user, so no query answers figures of days whose hours read as MISSING.
 */

const FROM = Date.parse('2026-11-28T00:00:00Z');
const TO = Date.parse('2026-12-03T00:00:00Z');
const DATES = Array.from({ length: (TO - FROM) / DAY_MS }, (_, i) => utcDate(FROM + i * DAY_MS));
const admin: Principal = { kind: 'admin', name: 'ops' };

describe('prune on the PostgreSQL store', () => {
  let database: TestDatabase;
  let store: PostgresStore;
  let schema: GraphQLSchema;

  beforeAll(async () => {
    schema = await buildAppSchema();
    database = await createTestDatabase();
    store = await openPostgresStore({ url: database.url });
    const labels = { ...parseConfig({}).prometheus.labels, user: 'user' };
    const projectUsers = store.capabilities().projectUsers;
    await ingestRange(
      directIngestDeps(store, summaryFleet(FROM), { labels, stepHours: 24, projectUsers }),
      FROM,
      TO,
    );
    const { summaries, emails } = store.summaryStores();
    for (const date of DATES) await summariseDate(store, summaries, date);
    // A day sent before the prune stays sent: the once-only rule outlives it.
    const claim = await emails.claim('alice', '2026-11-29', 'test', 60_000);
    await emails.markSent(claim!, 'alice@example.org');
  });

  afterAll(async () => {
    await store.close();
    await database.drop();
  });

  async function query<T>(source: string): Promise<T> {
    const answer = await graphql({
      schema,
      source,
      contextValue: createRequestContext({
        store,
        clock: fixedClock(TO + DAY_MS),
        log: silentLogger,
        principal: admin,
        summaries: store.summaryStores(),
      }),
    });
    if (answer.errors) throw answer.errors[0];
    return answer.data as T;
  }

  const summaryDates = async () =>
    (
      await query<{ dailySummaries: Array<{ date: string; complete: boolean }> }>(
        `{ dailySummaries(user: "alice", from: "2026-11-20T00:00:00Z", to: "2026-12-03T00:00:00Z") { date complete } }`,
      )
    ).dailySummaries.map((summary) => [summary.date.slice(0, 10), summary.complete]);

  it('forgets the daily summaries and the usage by project and user of the days it forgets, and nothing after', async () => {
    expect(await summaryDates()).toEqual(DATES.map((date) => [date, true]));
    const projectUsers = store.capabilities().projectUsers;
    expect(await projectUsers.days()).toEqual(DATES);
    const decemberRows = await projectUsers.readDayRows('2026-12-01');
    expect(decemberRows.length).toBeGreaterThan(0);

    await pruneBefore(store.pool, '2026-12');

    const { usageSeries } = await query<{ usageSeries: { buckets: Array<{ status: string }> } }>(
      `{ usageSeries(level: USER, key: "alice", from: "2026-11-28T00:00:00Z", to: "2026-12-03T00:00:00Z",
         granularity: DAY) { buckets { status } } }`,
    );
    expect(usageSeries.buckets.map((bucket) => bucket.status)).toEqual([
      'MISSING',
      'MISSING',
      'MISSING',
      'OK',
      'OK',
    ]);
    expect(await summaryDates()).toEqual([
      ['2026-12-01', true],
      ['2026-12-02', true],
    ]);
    expect(await projectUsers.days()).toEqual(['2026-12-01', '2026-12-02']);
    expect(await projectUsers.readDay('2026-11-29', 'P')).toEqual(new Map());
    expect(await projectUsers.readDayRows('2026-12-01')).toEqual(decemberRows);
    const { summaries, emails } = store.summaryStores();
    // A forgotten day reads as never summarised, so the daily job does not summarise it again.
    expect(await summaries.isSummarised('2026-11-30')).toBe(false);
    expect(await summaries.isSummarised('2026-12-01')).toBe(true);
    expect(await daysToSummarise(summaries, Date.parse('2026-12-03T02:00:00Z'), 7)).toEqual([
      '2026-12-01',
      '2026-12-02',
    ]);
    expect(await emails.claim('alice', '2026-11-29', 'test', 60_000)).toBeNull();
  });
});
