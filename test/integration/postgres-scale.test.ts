import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { addBreakdownInto, zeroBreakdown } from '../../src/domain/figures';
import { DAY_MS, HOUR_MS, utcDate } from '../../src/domain/time';
import type { DayEntry, HourOutcome } from '../../src/domain/usage';
import { ingestRange } from '../../src/ingest/run';
import { openPostgresStore, type PostgresStore } from '../../src/store/postgres';
import { StoreLockedError, withWriter } from '../../src/store/store';
import { runCli } from '../support/cli';
import { apply, batch, okHour, usage } from '../support/describe-store';
import { directIngestDeps, fakeCpuSource } from '../support/fake-ingest';
import { createTestDatabase, type TestDatabase } from '../support/postgres';

/** `days` days of hours from `from` for `key` (one figure an hour), as one batch's outcomes and entries. */
function days(key: string, from: string, count: number): { outcomes: HourOutcome[]; entries: DayEntry[] } {
  const outcomes: HourOutcome[] = [];
  const entries: DayEntry[] = [];
  for (let d = 0; d < count; d++) {
    const date = utcDate(Date.parse(from) + d * DAY_MS);
    const hours: DayEntry['hours'] = {};
    for (let h = 0; h < 24; h++) {
      const label = `${String(h).padStart(2, '0')}:00`;
      outcomes.push(okHour(`${date}T${label}Z`));
      hours[label] = usage(1 + d);
    }
    entries.push({ level: 'PROJECT', key, date, hours, totals: usage(24 * (1 + d)) });
  }
  return { outcomes, entries };
}

describe('the PostgreSQL store across processes and over time', () => {
  let database: TestDatabase;
  const stores: PostgresStore[] = [];
  let scratch: string;

  beforeEach(async () => {
    database = await createTestDatabase('cl_scale');
    scratch = mkdtempSync(join(tmpdir(), 'cl-scale-'));
  });

  afterEach(async () => {
    await Promise.all(stores.splice(0).map((store) => store.close()));
    await database.drop();
    rmSync(scratch, { recursive: true, force: true });
  });

  /** A handle of its own, with its own pool: as another host would have. */
  async function handle(): Promise<PostgresStore> {
    const store = await openPostgresStore({ url: database.url });
    stores.push(store);
    return store;
  }

  it('lets one ingest write at a time across handles: the other is told who holds it, or waits its turn', async () => {
    const [a, b] = [await handle(), await handle()];
    const FROM = Date.parse('2025-03-01T00:00:00Z');
    await withWriter(a, { purpose: 'carbonledger ingest' }, async () => {
      const refused = b.openWriter({ purpose: 'carbonledger ingest' });
      await expect(refused).rejects.toThrow(StoreLockedError);
      await expect(refused).rejects.toThrow(/held by pid \d+ .*\(carbonledger ingest\)/);
    });
    // Two ingests of overlapping ranges at once, each waiting for the writer: both complete.
    const order: string[] = [];
    const ingest = (store: PostgresStore, name: string, from: number, to: number) =>
      withWriter(store, { purpose: name, waitMs: 120_000, pollMs: 50 }, async (writer) => {
        order.push(`${name} start`);
        const report = await ingestRange(
          { ...directIngestDeps(store, fakeCpuSource(), { stepHours: 6 }), writer },
          from,
          to,
        );
        order.push(`${name} end`);
        return report;
      });
    const reports = await Promise.all([
      ingest(a, 'first', FROM, FROM + 48 * HOUR_MS),
      ingest(b, 'second', FROM + 24 * HOUR_MS, FROM + 72 * HOUR_MS),
    ]);
    expect(reports.map((report) => report.okHours)).toEqual([48, 48]);
    // Never two at once: each ran from start to end before the other began.
    const [first, second] = order[0].startsWith('first') ? ['first', 'second'] : ['second', 'first'];
    expect(order).toEqual([`${first} start`, `${first} end`, `${second} start`, `${second} end`]);
    const ledger = await a.readLedger(FROM, FROM + 72 * HOUR_MS);
    expect([...ledger.values()].every((record) => record.status === 'ok')).toBe(true);
    expect(ledger.size).toBe(72);
  });

  it('shares the carbon intensity cache between handles', async () => {
    const [a, b] = [await handle(), await handle()];
    const hour = Date.parse('2025-03-01T05:00:00Z');
    await a.intensityCache.put(
      new Map([[hour, { gPerKwh: 123.5, estimated: false, source: 'carbon-intensity-api' }]]),
    );
    expect(await b.intensityCache.get(hour, hour + HOUR_MS)).toEqual(
      new Map([[hour, { gPerKwh: 123.5, estimated: false, source: 'carbon-intensity-api' }]]),
    );
  });

  it('prune forgets the months before the one given, and every roll-up left equals its hours', async () => {
    const store = await handle();
    const january = days('alpha', '2025-01-01', 31);
    const rest = days('alpha', '2025-02-01', 59);
    const beta = days('beta', '2025-01-20', 5);
    beta.entries.forEach((entry) => (entry.key = 'beta'));
    await apply(
      store,
      batch(january.outcomes, [...january.entries, ...beta.entries]),
      batch(rest.outcomes, rest.entries),
    );
    const config = join(scratch, 'config.json');
    writeFileSync(config, JSON.stringify({ store: { kind: 'postgres', url: database.url } }));
    const reader = await handle();
    const versionBefore = await reader.version();

    const pruned = await runCli(['prune', '--before', '2025-02', '--config', config]);
    expect(pruned).toMatchObject({ code: 0 });
    expect(pruned.stdout).toContain('forgot 744 hours before 2025-02 (dropped the hours of 2025-01)');

    expect(await store.readLedger(Date.parse('2025-01-01T00:00Z'), Date.parse('2025-02-01T00:00Z'))).toEqual(
      new Map(),
    );
    expect(await store.readDays('PROJECT', '2025-01-15', ['alpha'])).toEqual([null]);
    expect(await store.readMonths('PROJECT', '2025-01', ['alpha', 'beta'])).toEqual([null, null]);
    // beta had only January: it is gone.
    expect(await store.listKeys('PROJECT')).toEqual(['alpha']);
    const [year] = await store.readYears('PROJECT', '2025', ['alpha']);
    const months = await Promise.all(
      ['2025-02', '2025-03'].map((m) => store.readMonths('PROJECT', m, ['alpha'])),
    );
    expect(Object.keys(year!.months)).toEqual(['2025-02', '2025-03']);
    const sum = zeroBreakdown();
    for (const [month] of months) addBreakdownInto(sum, month!.totals);
    expect(year!.totals).toEqual(sum);
    expect(year!.totals.all).toEqual(usage(24 * ((59 * 60) / 2)).all);
    // Every replica's cached answers go: the version moved on.
    await new Promise((resolve) => setTimeout(resolve, 1100));
    expect(await reader.version()).not.toEqual(versionBefore);

    expect((await runCli(['prune', '--before', '2025-02', '--config', config])).stdout).toContain(
      'nothing before 2025-02',
    );
    const json = join(scratch, 'json.json');
    writeFileSync(json, JSON.stringify({ store: { kind: 'json', dataDir: scratch } }));
    expect(await runCli(['prune', '--before', '2025-02', '--config', json])).toMatchObject({
      code: 2,
      stderr: expect.stringContaining('only "postgres" does'),
    });
    expect((await runCli(['prune', '--before', '2025-13', '--config', config])).code).toBe(2);
  });
});
