import type pg from 'pg';
import { inTransaction } from './connect';
import { settleRollups, type Candidate } from './rollups';
import { LOCK_NAMESPACE, LOCKS } from './locks';

export interface PruneReport {
  /** The months (`YYYY-MM`) whose hours were dropped, oldest first. */
  months: string[];
  /** Ledger hours forgotten. */
  ledgerHours: number;
}

/**
 * Forgets every hour before `month` (`YYYY-MM`), in one transaction, so that what is left still
 * holds together: the hours' monthly partitions are dropped (no long DELETE), and with them their
 * day totals, their month roll-ups and their ledger records (so those hours read as never
 * ingested, not as zeros); each year roll-up left is rebuilt from the months it still has, so
 * roll-ups keep equalling their hours. What was made of those hours goes with them: the daily
 * summaries of their days (which then read as never summarised, so no job summarises them again)
 * and their usage by project and user. The summary emails' records stay: a day is still never
 * sent twice. The batch lock keeps every writer out meanwhile, and the
 * store's version moves on, so every replica drops its cached answers.
 */
export async function pruneBefore(pool: pg.Pool, month: string): Promise<PruneReport> {
  if (!/^\d{4}-(0[1-9]|1[0-2])$/.test(month)) throw new Error(`not a month (YYYY-MM): ${month}`);
  const cutoff = `${month}-01`;
  // An instant, not a date: a date would be read in the session's time zone.
  const cutoffInstant = `${cutoff}T00:00:00Z`;
  return inTransaction(pool, async (tx) => {
    await tx.query('SELECT pg_advisory_xact_lock($1, $2)', [LOCK_NAMESPACE, LOCKS.batch]);
    const { rows: partitions } = await tx.query<{ name: string }>(
      `SELECT c.relname AS name FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
       WHERE i.inhparent = 'usage_hour'::regclass AND c.relname ~ '^usage_hour_p[0-9]{4}_[0-9]{2}$'
       ORDER BY 1`,
    );
    const dropped = partitions
      .map(({ name }) => name)
      .filter((name) => `${name.slice(12, 16)}-${name.slice(17, 19)}` < month);
    // Names read from the catalogue, matching the pattern above: never input.
    for (const name of dropped) await tx.query(`DROP TABLE ${name}`);
    // Hours outside any monthly partition (none are made, but a default partition could hold some).
    await tx.query('DELETE FROM usage_hour WHERE hour < $1::timestamptz', [cutoffInstant]);
    // Month roll-ups of the months that lose days, by key: rebuilt below from the days left (none).
    const { rows: changed } = await tx.query<Candidate & { month: string }>(
      `SELECT k.id, k.level, k.key, to_char(m.month, 'YYYY-MM') AS month
       FROM usage_month m JOIN usage_key k ON k.id = m.key_id WHERE m.month < $1::date`,
      [cutoff],
    );
    await tx.query('DELETE FROM usage_day WHERE day < $1::date', [cutoff]);
    const keys = [
      ...new Map(changed.map((row) => [row.id, { id: row.id, level: row.level, key: row.key }])).values(),
    ];
    await settleRollups(tx, keys, new Set(changed.map((row) => `${row.id}/${row.month}`)));
    const { rowCount } = await tx.query('DELETE FROM ledger_hour WHERE hour < $1::timestamptz', [
      cutoffInstant,
    ]);
    await tx.query('DELETE FROM carbon_intensity WHERE hour < $1::timestamptz', [cutoffInstant]);
    await tx.query('DELETE FROM daily_summary WHERE day < $1::date', [cutoff]);
    await tx.query('DELETE FROM summary_day WHERE day < $1::date', [cutoff]);
    await tx.query('DELETE FROM project_user_hour WHERE hour < $1::timestamptz', [cutoffInstant]);
    await tx.query('DELETE FROM usage_hour_set_aside WHERE hour < $1::timestamptz', [cutoffInstant]);
    // Periods as text (`YYYY-MM-DD`, `YYYY-MM`) sort as they fall; a year is rebuilt, not forgotten.
    await tx.query("DELETE FROM usage_rollup_set_aside WHERE kind <> 'year' AND period < $1", [month]);
    await tx.query('UPDATE store_version SET version = version + 1');
    return {
      months: dropped.map((name) => `${name.slice(12, 16)}-${name.slice(17, 19)}`),
      ledgerHours: rowCount ?? 0,
    };
  });
}
