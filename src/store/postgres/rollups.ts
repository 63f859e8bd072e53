import type pg from 'pg';
import type { Breakdown } from '../../domain/figures';
import type { Level } from '../../domain/levels';
import { DAY_MS, hourLabel, periodStart, utcDate } from '../../domain/time';
import { FAILED, type DayEntry } from '../../domain/usage';
import { monthRollup, sumHours, yearRollup } from '../rules/merge';
import { copyRows, periodRows } from './copy-rows';
import { decodeBreakdown, encodeBreakdown, type StoredBreakdown } from './codec';
import { iso, sharedTextArrays } from './reads';

/** A key the writer names by its id. */
export interface Candidate {
  id: number;
  level: Level;
  key: string;
}

/**
 * Rebuilds the month roll-ups of the changed months (`keyId/YYYY-MM`) from their days, then the
 * years of those months and of `changedYears` (`keyId/YYYY`) from their months.
 */
export async function settleRollups(
  tx: pg.ClientBase,
  keys: readonly Candidate[],
  changedMonths: ReadonlySet<string>,
  changedYears: ReadonlySet<string> = new Set(),
): Promise<void> {
  const byId = new Map(keys.map((key) => [key.id, key]));
  for (const months of inKeyChunks(changedMonths)) await settleMonths(tx, byId, months);
  const years = new Set([...changedYears, ...[...changedMonths].map((id) => id.slice(0, -3))]);
  for (const chunk of inKeyChunks(years)) await settleYears(tx, byId, chunk);
}

/**
 * Keys whose roll-ups are summed at a time. Their parts' rows are held meanwhile: by the end of a
 * month, a batch of a thousand instances' keys would otherwise read some 40,000 day rows at once.
 */
const SETTLE_KEYS = 200;

/** `keyId/period` ids in groups of at most SETTLE_KEYS keys. */
function inKeyChunks(ids: ReadonlySet<string>): Array<Set<string>> {
  const byKey = [...groupPeriods(ids)];
  const chunks: Array<Set<string>> = [];
  for (let start = 0; start < byKey.length; start += SETTLE_KEYS) {
    chunks.push(
      new Set(
        byKey
          .slice(start, start + SETTLE_KEYS)
          .flatMap(([keyId, periods]) => periods.map((period) => `${keyId}/${period}`)),
      ),
    );
  }
  return chunks;
}

async function settleMonths(
  tx: pg.ClientBase,
  byId: ReadonlyMap<number, Candidate>,
  changedMonths: ReadonlySet<string>,
): Promise<void> {
  const months = [...new Set([...changedMonths].map((id) => id.split('/')[1]))].sort();
  const { rows: dayRows } = await tx.query<{ key_id: number; period: string } & StoredBreakdown>(
    `SELECT key_id, to_char(day, 'YYYY-MM-DD') AS period, machines, figures FROM usage_day
     WHERE key_id = ANY($1::int[]) AND day >= $2::date AND day < $3::date + interval '1 month'`,
    [[...groupPeriods(changedMonths).keys()], months[0] + '-01', months.at(-1)! + '-01'],
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
}

async function settleYears(
  tx: pg.ClientBase,
  byId: ReadonlyMap<number, Candidate>,
  changedYears: ReadonlySet<string>,
): Promise<void> {
  const years = [...new Set([...changedYears].map((id) => id.split('/')[1]))].sort();
  const { rows: monthRows } = await tx.query<{ key_id: number; period: string } & StoredBreakdown>(
    `SELECT key_id, to_char(month, 'YYYY-MM') AS period, machines, figures FROM usage_month
     WHERE key_id = ANY($1::int[]) AND month >= make_date($2, 1, 1) AND month < make_date($3, 1, 1)`,
    [[...groupPeriods(changedYears).keys()], Number(years[0]), Number(years.at(-1)) + 1],
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

/**
 * Rewrites the day totals of each (key id, date) from its hours, failed ones included (a day with
 * no hour left has none); returns the `keyId/YYYY-MM` of their months, to settle.
 */
export async function rewriteDays(
  tx: pg.ClientBase,
  keyDays: ReadonlyArray<{ id: number; date: string }>,
): Promise<Set<string>> {
  if (keyDays.length === 0) return new Set();
  const wanted = new Set(keyDays.map(({ id, date }) => `${id}/${date}`));
  const dates = [...new Set(keyDays.map(({ date }) => date))].sort();
  const { rows } = await tx.query<{ key_id: number; hour: number; failed: boolean } & StoredBreakdown>({
    text: `SELECT key_id, extract(epoch FROM hour)::float8 * 1000 AS hour, failed, machines, figures
     FROM usage_hour WHERE key_id = ANY($1::int[]) AND hour >= $2 AND hour < $3`,
    values: [
      [...new Set(keyDays.map(({ id }) => id))],
      iso(periodStart(dates[0])),
      iso(periodStart(dates.at(-1)!) + DAY_MS),
    ],
    types: sharedTextArrays(),
  });
  const days = new Map<string, DayEntry['hours']>();
  for (const row of rows) {
    const id = `${row.key_id}/${utcDate(row.hour)}`;
    if (!wanted.has(id)) continue;
    const hours = days.get(id) ?? {};
    days.set(id, hours);
    hours[hourLabel(row.hour)] = row.failed ? FAILED : decodeBreakdown(row);
  }
  const ids = [...wanted].map((id) => id.split('/'));
  await tx.query(
    'DELETE FROM usage_day WHERE (key_id, day) IN (SELECT * FROM unnest($1::int[], $2::date[]))',
    [ids.map(([keyId]) => Number(keyId)), ids.map(([, date]) => date)],
  );
  const dayRows = periodRows('usage_day');
  for (const [id, hours] of days) {
    const [keyId, date] = id.split('/');
    const { machines, figures } = encodeBreakdown(sumHours(hours));
    dayRows.push([Number(keyId), date, machines, figures]);
  }
  await copyRows(tx, dayRows);
  return new Set(ids.map(([keyId, date]) => `${keyId}/${date.slice(0, 7)}`));
}

function groupPeriods(ids: ReadonlySet<string>): Map<number, string[]> {
  const grouped = new Map<number, string[]>();
  for (const id of ids) {
    const [keyId, period] = id.split('/');
    const periods = grouped.get(Number(keyId)) ?? [];
    grouped.set(Number(keyId), periods);
    periods.push(period);
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
  const rows = periodRows(table);
  for (const [id, breakdown] of totals) {
    if (breakdown === null) continue;
    const [keyId, period] = id.split('/');
    const { machines, figures } = encodeBreakdown(breakdown);
    const value = toColumn(period);
    rows.push([Number(keyId), table === 'usage_year' ? Number(value) : value, machines, figures]);
  }
  await copyRows(tx, rows);
}
