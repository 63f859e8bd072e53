import type pg from 'pg';
import type { Logger } from '../../log';
import { zeroBreakdown, type Breakdown } from '../../domain/figures';
import type { Level } from '../../domain/levels';
import { DAY_MS, hourLabel, hourOfDay, periodStart, utcDate, utcMonth } from '../../domain/time';
import { FAILED, type DayEntry, type IngestBatch, type LedgerHour } from '../../domain/usage';
import { planBatch, validateBatch } from '../rules/batch';
import type { ApplyOptions, ApplyResult } from '../store';
import { mergeDay, monthRollup, yearRollup, type DayChange } from '../rules/merge';
import { copyRows, isTransient, transactionOn } from './connect';
import { recordInstances } from './instance-index';
import { newestOkHour, replacedOkHours, withoutHours } from '../instance-index';
import { copyRow, decodeBreakdown, encodeBreakdown, sameStored, type StoredBreakdown } from './codec';
import { LOCK_NAMESPACE, LOCKS } from './locks';
import { ensureHourPartitions } from './partitions';
import { iso, sharedTextArrays } from './reads';

export interface Candidate {
  id: number;
  level: Level;
  key: string;
}

type Hours = DayEntry['hours'];

/** The writer's own connection, on which its batches are applied (see writer.ts). */
export interface WriterConnection {
  /** The connection, opened again (and the writer's lock taken again) when it was lost. */
  connection(): Promise<pg.ClientBase>;
  /** Whether an error means the connection, and the lock with it, went. */
  lost(err: unknown): boolean;
}

/**
 * applyBatch, tried again while the database is away (a restart, a failover) for up to `retryMs`:
 * the batch is one transaction, so a try that failed wrote nothing and the next starts afresh.
 */
export async function applyBatchRetrying(
  writer: WriterConnection,
  batch: IngestBatch,
  options: ApplyOptions & { retryMs: number; log: Logger },
): Promise<{ version: number } & ApplyResult> {
  const giveUpAt = Date.now() + options.retryMs;
  for (let attempt = 1; ; attempt++) {
    try {
      return await applyBatch(await writer.connection(), batch, options);
    } catch (err) {
      const pauseMs = Math.min(250 * 2 ** (attempt - 1), 5000);
      if (!(isTransient(err) || writer.lost(err)) || Date.now() + pauseMs > giveUpAt) throw err;
      options.log.warn('batch not applied; the database is away, trying again', {
        attempt,
        pauseMs,
        error: (err as Error).message,
      });
      await new Promise((resolve) => setTimeout(resolve, pauseMs));
    }
  }
}

/**
 * Applies one batch in one transaction on `client` (see Store.applyBatch for what it does): a
 * crash or a failed statement leaves the store as it was before the batch, never half of it.
 * Returns the store's version after the batch and the ok hours it kept (see `seriesVanished`).
 */
export async function applyBatch(
  client: pg.ClientBase,
  batch: IngestBatch,
  options: ApplyOptions = {},
): Promise<{ version: number } & ApplyResult> {
  validateBatch(batch);
  await ensureHourPartitions(
    client,
    batch.outcomes.map((outcome) => utcMonth(outcome.hour)),
  );
  return transactionOn(client, async (tx) => {
    await tx.query('SELECT pg_advisory_xact_lock($1, $2)', [LOCK_NAMESPACE, LOCKS.batch]);
    const hours = batch.outcomes.map((outcome) => iso(outcome.hour));
    const { rows: ledgerRows } = await tx.query<{ hour: number; record: LedgerHour }>(
      `SELECT extract(epoch FROM hour)::float8 * 1000 AS hour, record
       FROM ledger_hour WHERE hour = ANY($1::timestamptz[])`,
      [hours],
    );
    const ledgerBefore = new Map<string, Map<number, LedgerHour>>();
    for (const { hour, record } of ledgerRows) {
      const month = ledgerBefore.get(utcMonth(hour)) ?? new Map<number, LedgerHour>();
      ledgerBefore.set(utcMonth(hour), month.set(hour, record));
    }
    const plan = planBatch(batch.outcomes, ledgerBefore, batch.attemptedAt, options.replace === true);
    await mergeInstanceProjects(tx, batch.instanceProjects ?? {});
    if (plan.days.size > 0) await applyDays(tx, batch.entries, plan.days);
    const records = batch.outcomes.map((outcome) =>
      plan.ledger.get(utcMonth(outcome.hour))!.get(outcome.hour)!,
    );
    await tx.query(
      `INSERT INTO ledger_hour (hour, status, record)
       SELECT hour, status, record::jsonb
       FROM unnest($1::timestamptz[], $2::text[], $3::text[]) AS t(hour, status, record)
       ON CONFLICT (hour) DO UPDATE SET status = excluded.status, record = excluded.record`,
      [hours, records.map((record) => record.status), records.map((record) => JSON.stringify(record))],
    );
    await recordInstances(
      tx,
      withoutHours(batch.instances ?? [], new Set(plan.kept.map((kept) => kept.hour))),
      newestOkHour(batch),
      replacedOkHours(batch, plan.kept),
    );
    const { rows } = await tx.query<{ version: number }>(
      'UPDATE store_version SET version = version + 1 RETURNING version::float8 AS version',
    );
    return { version: rows[0].version, keptHours: plan.kept };
  });
}

async function mergeInstanceProjects(
  tx: pg.ClientBase,
  instanceProjects: Readonly<Record<string, readonly string[]>>,
): Promise<void> {
  const pairs = Object.entries(instanceProjects).flatMap(([instance, projects]) =>
    projects.map((project) => [instance, project]),
  );
  if (pairs.length === 0) return;
  await tx.query(
    `INSERT INTO instance_project (instance, project)
     SELECT * FROM unnest($1::text[], $2::text[]) ON CONFLICT DO NOTHING`,
    [pairs.map(([instance]) => instance), pairs.map(([, project]) => project)],
  );
}

/** Every key that could change on the batch's days: the batch's keys and every key with a day entry. */
async function candidates(tx: pg.ClientBase, entries: readonly DayEntry[]): Promise<Candidate[]> {
  const levels = entries.map((entry) => entry.level);
  const keys = entries.map((entry) => entry.key);
  if (entries.length > 0) {
    await tx.query(
      'INSERT INTO usage_key (level, key) SELECT * FROM unnest($1::text[], $2::text[]) ON CONFLICT DO NOTHING',
      [levels, keys],
    );
  }
  const { rows } = await tx.query<Candidate>(
    `SELECT id, level, key FROM usage_key k
     WHERE EXISTS (SELECT 1 FROM usage_day d WHERE d.key_id = k.id)
        OR (level, key) IN (SELECT * FROM unnest($1::text[], $2::text[]))`,
    [levels, keys],
  );
  return rows;
}

async function applyDays(
  tx: pg.ClientBase,
  entries: readonly DayEntry[],
  days: ReadonlyMap<string, DayChange>,
): Promise<void> {
  const keys = await candidates(tx, entries);
  const dates = [...days.keys()].sort();
  const existing = await existingHours(tx, keys, dates);
  const incoming = new Map(
    entries.map((entry) => [`${entry.level}\u0000${entry.key}\u0000${entry.date}`, entry]),
  );
  const writes = new Writes();
  for (const candidate of keys) {
    for (const date of dates) {
      const before = existing.get(candidate.id)?.get(date) ?? null;
      const after = mergeDay(
        { level: candidate.level, key: candidate.key, date },
        // mergeDay sums the totals afresh from the hours: the stored ones are not needed.
        before === null
          ? null
          : { level: candidate.level, key: candidate.key, date, hours: before, totals: zeroBreakdown() },
        incoming.get(`${candidate.level}\u0000${candidate.key}\u0000${date}`) ?? null,
        days.get(date)!,
      );
      writes.day(candidate.id, date, before, after, days.get(date)!);
    }
  }
  await writes.flushDays(tx);
  await settleRollups(tx, keys, writes.changedMonths);
}

/** The stored hours of `keys` on `dates`, by key id and date. */
async function existingHours(
  tx: pg.ClientBase,
  keys: readonly Candidate[],
  dates: readonly string[],
): Promise<Map<number, Map<string, Hours>>> {
  const wanted = new Set(dates);
  const { rows } = await tx.query<{ key_id: number; hour: number; failed: boolean } & StoredBreakdown>({
    text: `SELECT key_id, extract(epoch FROM hour)::float8 * 1000 AS hour, failed, machines, figures
     FROM usage_hour WHERE key_id = ANY($1::int[]) AND hour >= $2 AND hour < $3`,
    values: [keys.map((key) => key.id), iso(periodStart(dates[0])), iso(periodStart(dates.at(-1)!) + DAY_MS)],
    types: sharedTextArrays(),
  });
  const found = new Map<number, Map<string, Hours>>();
  for (const row of rows) {
    const date = utcDate(row.hour);
    if (!wanted.has(date)) continue;
    const byDate = found.get(row.key_id) ?? new Map<string, Hours>();
    found.set(row.key_id, byDate);
    const hours = byDate.get(date) ?? {};
    byDate.set(date, hours);
    hours[hourLabel(row.hour)] = row.failed ? FAILED : decodeBreakdown(row);
  }
  return found;
}

/** The rows a batch changes, gathered, then written with one DELETE and one COPY a table. */
class Writes {
  private readonly hourGone: Array<[number, string]> = [];
  private readonly hourRows: string[] = [];
  private readonly dayGone: Array<[number, string]> = [];
  private readonly dayRows: string[] = [];
  /** `keyId/YYYY-MM` of every month whose days changed. */
  readonly changedMonths = new Set<string>();

  day(keyId: number, date: string, before: Hours | null, after: DayEntry | null, change: DayChange): void {
    let changed = false;
    for (const label of [...change.replace, ...change.markFailed]) {
      const old = before?.[label];
      const now = after?.hours[label];
      if (old === undefined && now === undefined) continue;
      if (old !== undefined && now !== undefined && sameHour(old, now)) continue;
      changed = true;
      const hour = iso(hourOfDay(date, label));
      if (old !== undefined) this.hourGone.push([keyId, hour]);
      if (now === FAILED) this.hourRows.push(copyRow([keyId, hour, true, [], null]));
      else if (now !== undefined) {
        const { machines, figures } = encodeBreakdown(now);
        this.hourRows.push(copyRow([keyId, hour, false, machines, figures]));
      }
    }
    if (!changed) return;
    this.changedMonths.add(`${keyId}/${date.slice(0, 7)}`);
    if (before !== null) this.dayGone.push([keyId, date]);
    if (after !== null) {
      const { machines, figures } = encodeBreakdown(after.totals);
      this.dayRows.push(copyRow([keyId, date, machines, figures]));
    }
  }

  async flushDays(tx: pg.ClientBase): Promise<void> {
    if (this.hourGone.length > 0) {
      await tx.query(
        'DELETE FROM usage_hour WHERE (key_id, hour) IN (SELECT * FROM unnest($1::int[], $2::timestamptz[]))',
        [this.hourGone.map(([id]) => id), this.hourGone.map(([, hour]) => hour)],
      );
    }
    await copyRows(tx, 'usage_hour (key_id, hour, failed, machines, figures)', this.hourRows);
    if (this.dayGone.length > 0) {
      await tx.query(
        'DELETE FROM usage_day WHERE (key_id, day) IN (SELECT * FROM unnest($1::int[], $2::date[]))',
        [this.dayGone.map(([id]) => id), this.dayGone.map(([, date]) => date)],
      );
    }
    await copyRows(tx, 'usage_day (key_id, day, machines, figures)', this.dayRows);
  }
}

function sameHour(a: Hours[string], b: Hours[string]): boolean {
  if (a === FAILED || b === FAILED) return a === b;
  return sameStored(a, b);
}

/** Rebuilds the month roll-ups of the changed months from their days, then their years from their months. */
export async function settleRollups(
  tx: pg.ClientBase,
  keys: readonly Candidate[],
  changedMonths: ReadonlySet<string>,
): Promise<void> {
  if (changedMonths.size === 0) return;
  const byId = new Map(keys.map((key) => [key.id, key]));
  const monthsOf = groupPeriods(changedMonths);
  const months = [...new Set([...changedMonths].map((id) => id.split('/')[1]))].sort();
  const { rows: dayRows } = await tx.query<{ key_id: number; period: string } & StoredBreakdown>(
    `SELECT key_id, day::text AS period, machines, figures FROM usage_day
     WHERE key_id = ANY($1::int[]) AND day >= $2::date AND day < $3::date + interval '1 month'`,
    [[...monthsOf.keys()], months[0] + '-01', months.at(-1)! + '-01'],
  );
  const monthTotals = rebuild(
    dayRows,
    changedMonths,
    (day) => day.slice(0, 7),
    (keyId, month, parts) => {
      const key = byId.get(keyId)!;
      return monthRollup(key.level, key.key, month, parts)?.totals ?? null;
    },
  );
  await replaceRollups(tx, 'usage_month', 'month', monthTotals, (month) => `${month}-01`);

  const changedYears = new Set([...changedMonths].map((id) => id.slice(0, -3)));
  const years = [...new Set([...changedYears].map((id) => id.split('/')[1]))].sort();
  const { rows: monthRows } = await tx.query<{ key_id: number; period: string } & StoredBreakdown>(
    `SELECT key_id, to_char(month, 'YYYY-MM') AS period, machines, figures FROM usage_month
     WHERE key_id = ANY($1::int[]) AND month >= make_date($2, 1, 1) AND month < make_date($3, 1, 1)`,
    [[...monthsOf.keys()], Number(years[0]), Number(years.at(-1)) + 1],
  );
  const yearTotals = rebuild(
    monthRows,
    changedYears,
    (month) => month.slice(0, 4),
    (keyId, year, parts) => {
      const key = byId.get(keyId)!;
      return yearRollup(key.level, key.key, year, parts)?.totals ?? null;
    },
  );
  await replaceRollups(tx, 'usage_year', 'year', yearTotals, (year) => year);
}

function groupPeriods(ids: ReadonlySet<string>): Map<number, string[]> {
  const grouped = new Map<number, string[]>();
  for (const id of ids) {
    const [keyId, period] = id.split('/');
    grouped.set(Number(keyId), [...(grouped.get(Number(keyId)) ?? []), period]);
  }
  return grouped;
}

/** Each wanted roll-up (`keyId/period`) summed from its parts' rows: null when it has none left. */
function rebuild(
  rows: ReadonlyArray<{ key_id: number; period: string } & StoredBreakdown>,
  wanted: ReadonlySet<string>,
  parentOf: (period: string) => string,
  total: (keyId: number, period: string, parts: Record<string, Breakdown>) => Breakdown | null,
): Map<string, Breakdown | null> {
  const parts = new Map<string, Record<string, Breakdown>>();
  for (const row of rows) {
    const id = `${row.key_id}/${parentOf(row.period)}`;
    if (!wanted.has(id)) continue;
    const record = parts.get(id) ?? {};
    parts.set(id, record);
    record[row.period] = decodeBreakdown(row);
  }
  const totals = new Map<string, Breakdown | null>();
  for (const id of wanted) {
    const [keyId, period] = id.split('/');
    totals.set(id, total(Number(keyId), period, parts.get(id) ?? {}));
  }
  return totals;
}

async function replaceRollups(
  tx: pg.ClientBase,
  table: 'usage_month' | 'usage_year',
  column: 'month' | 'year',
  totals: ReadonlyMap<string, Breakdown | null>,
  toColumn: (period: string) => string,
): Promise<void> {
  const ids = [...totals.keys()].map((id) => id.split('/'));
  // The table and column are this module's constants, never input.
  await tx.query(
    `DELETE FROM ${table} WHERE (key_id, ${column}) IN (
       SELECT key_id, period::${column === 'month' ? 'date' : 'smallint'}
       FROM unnest($1::int[], $2::text[]) AS t(key_id, period))`,
    [ids.map(([id]) => Number(id)), ids.map(([, period]) => toColumn(period))],
  );
  const rows: string[] = [];
  for (const [id, breakdown] of totals) {
    if (breakdown === null) continue;
    const [keyId, period] = id.split('/');
    const { machines, figures } = encodeBreakdown(breakdown);
    rows.push(copyRow([Number(keyId), toColumn(period), machines, figures]));
  }
  await copyRows(tx, `${table} (key_id, ${column}, machines, figures)`, rows);
}
