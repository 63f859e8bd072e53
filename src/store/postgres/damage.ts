import type pg from 'pg';
import type { Level } from '../../domain/levels';
import { utcDate } from '../../domain/time';
import type { LedgerHour } from '../../domain/usage';
import type { Logger } from '../../log';
import { withIndexScans } from './connect';
import { undecodableFigures } from './codec';
import { iso } from './reads';
import { rewriteDays, settleRollups, type Candidate } from './rollups';

/**
 * An ok hour row whose figures codec.ts cannot decode: not a whole, non-zero number of parts of
 * eight-byte figures. Written exactly as migration 9's partial index usage_hour_undecodable is, so
 * the planner answers it from that index, empty in a sound store, instead of reading every row.
 */
const UNDECODABLE = `NOT h.failed AND ${undecodableFigures('h')}`;

/** Every undecodable ok hour row, with its key, by hour. */
export const DAMAGED_HOURS = `SELECT h.key_id, k.level, k.key, extract(epoch FROM h.hour)::float8 * 1000 AS hour,
    octet_length(h.figures) AS bytes, cardinality(h.machines) + 1 AS parts
  FROM usage_hour h JOIN usage_key k ON k.id = h.key_id
  WHERE ${UNDECODABLE} ORDER BY h.hour, k.level, k.key`;

interface Damaged {
  key_id: number;
  level: Level;
  key: string;
  hour: number;
  bytes: number;
  parts: number;
}

/**
 * Takes the undecodable hour rows out, in the batch's transaction, before the batch reads the
 * ledger: every ok row of a damaged hour (the damaged key's and every other key's) is copied to
 * usage_hour_set_aside and stored as failed, the day totals and roll-ups of the keys it touched
 * are rebuilt, and the hour is failed in the ledger with the reason, so the next ingestion of it
 * fetches it whole again. Other keys' good figures of that hour are failed with it, for an hour is
 * ok or failed for every key at once (the JSON store's readers hide them the same way); their rows
 * stay in usage_hour_set_aside. Hours that are not damaged are never touched. Returns the hours failed.
 */
export async function takeOutDamage(tx: pg.ClientBase, log: Logger): Promise<number[]> {
  const { rows: damaged } = await withIndexScans(tx, () => tx.query<Damaged>(DAMAGED_HOURS));
  if (damaged.length === 0) return [];
  const reasons = reasonsByHour(damaged);
  const hours = [...reasons.keys()];
  const range = [iso(hours[0]), iso(hours.at(-1)! + 1)];
  await tx.query(
    `INSERT INTO usage_hour_set_aside (key_id, hour, machines, figures, undecodable, reason)
     SELECT h.key_id, h.hour, h.machines, h.figures, ${UNDECODABLE}, t.reason
     FROM usage_hour h JOIN unnest($1::timestamptz[], $2::text[]) AS t(hour, reason) ON h.hour = t.hour
     WHERE h.hour >= $3 AND h.hour < $4 AND NOT h.failed`,
    [hours.map(iso), [...reasons.values()], ...range],
  );
  const { rows: failed } = await tx.query<Candidate & { hour: number }>(
    `UPDATE usage_hour h SET failed = true, machines = '{}', figures = NULL FROM usage_key k
     WHERE k.id = h.key_id AND h.hour = ANY($1::timestamptz[]) AND h.hour >= $2 AND h.hour < $3
       AND NOT h.failed
     RETURNING k.id, k.level, k.key, extract(epoch FROM h.hour)::float8 * 1000 AS hour`,
    [hours.map(iso), ...range],
  );
  const changedMonths = await rewriteDays(
    tx,
    failed.map(({ id, hour }) => ({ id, date: utcDate(hour) })),
  );
  const keys = [...new Map(failed.map(({ id, level, key }) => [id, { id, level, key }])).values()];
  await settleRollups(tx, keys, changedMonths);
  await failInLedger(tx, reasons);
  log.error('took undecodable hour rows out: their hours are failed until ingested again', {
    rows: damaged.length,
    hours: hours.map(iso),
    keys: [...new Set(damaged.map((row) => `${row.level} ${row.key}`))].slice(0, 10),
  });
  return hours;
}

/** Each damaged hour's reason, naming the first key damaged at it: by hour, ascending. */
function reasonsByHour(damaged: readonly Damaged[]): Map<number, string> {
  const byHour = new Map<number, Damaged[]>();
  for (const row of damaged) byHour.set(row.hour, [...(byHour.get(row.hour) ?? []), row]);
  const reasons = new Map<number, string>();
  for (const [hour, rows] of byHour) {
    const [first] = rows;
    const others = rows.length > 1 ? ` (and ${rows.length - 1} other keys)` : '';
    reasons.set(
      hour,
      `the stored figures of ${first.level} ${JSON.stringify(first.key)}${others} for this hour could not ` +
        `be read (${first.bytes} bytes of figures for ${first.parts} parts); the hour's rows were set ` +
        `aside in usage_hour_set_aside: ingest ${utcDate(hour)} again`,
    );
  }
  return reasons;
}

/** Fails each hour in the ledger with its reason, unless the ledger already holds it as failed. */
async function failInLedger(tx: pg.ClientBase, reasons: ReadonlyMap<number, string>): Promise<void> {
  const hours = [...reasons.keys()].map(iso);
  const { rows } = await tx.query<{ hour: number }>(
    `SELECT extract(epoch FROM hour)::float8 * 1000 AS hour FROM ledger_hour
     WHERE hour = ANY($1::timestamptz[]) AND status = 'failed'`,
    [hours],
  );
  const alreadyFailed = new Set(rows.map(({ hour }) => hour));
  const now = new Date().toISOString();
  const records = [...reasons]
    .filter(([hour]) => !alreadyFailed.has(hour))
    .map(([hour, error]): [string, LedgerHour] => [
      iso(hour),
      { status: 'failed', attempts: 0, error, lastAttemptAt: now },
    ]);
  if (records.length === 0) return;
  await tx.query(
    `INSERT INTO ledger_hour (hour, status, record)
     SELECT hour, 'failed', record::jsonb FROM unnest($1::timestamptz[], $2::text[]) AS t(hour, record)
     ON CONFLICT (hour) DO UPDATE SET status = excluded.status, record = excluded.record`,
    [records.map(([hour]) => hour), records.map(([, record]) => JSON.stringify(record))],
  );
}
