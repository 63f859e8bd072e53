import type pg from 'pg';
import { type DailySummaryRecord, pickFigures } from '../../domain/summaries';
import type { DailySummaryStore, EmailClaim, SummaryEmailLog, SummarySubscribers } from '../summaries';
import { inTransaction } from './connect';

/** Daily summaries in `daily_summary` (one row a user and day) and `summary_day`. */
export function postgresDailySummaries(pool: pg.Pool): DailySummaryStore {
  return {
    replaceDay: (date, complete, records) =>
      inTransaction(pool, async (tx) => {
        await tx.query('DELETE FROM daily_summary WHERE day = $1', [date]);
        await tx.query(
          `INSERT INTO daily_summary (user_key, day, record)
           SELECT * FROM unnest($1::text[], $2::date[], $3::jsonb[])`,
          [
            records.map((record) => record.user),
            records.map(() => date),
            records.map((record) => JSON.stringify(record)),
          ],
        );
        await tx.query(
          `INSERT INTO summary_day (day, complete) VALUES ($1, $2)
           ON CONFLICT (day) DO UPDATE SET complete = excluded.complete, summarised_at = now()`,
          [date, complete],
        );
      }),
    async read(user, fromDate, toDate) {
      const { rows } = await pool.query<{ record: DailySummaryRecord }>(
        `SELECT record FROM daily_summary WHERE user_key = $1 AND day >= $2 AND day < $3 ORDER BY day`,
        [user, fromDate, toDate],
      );
      return rows.map(({ record }) => ({ ...record, figures: pickFigures(record.figures) }));
    },
    async isSummarised(date) {
      const { rowCount } = await pool.query('SELECT 1 FROM summary_day WHERE day = $1', [date]);
      return rowCount === 1;
    },
    async days() {
      const { rows } = await pool.query<{ day: string }>(
        `SELECT to_char(day, 'YYYY-MM-DD') AS day FROM summary_day ORDER BY day`,
      );
      return rows.map(({ day }) => day);
    },
    async readDay(date) {
      const { rows } = await pool.query<{ complete: boolean; records: DailySummaryRecord[] }>(
        `SELECT d.complete, coalesce(
           (SELECT jsonb_agg(s.record) FROM daily_summary s WHERE s.day = d.day),
           '[]'::jsonb) AS records
         FROM summary_day d WHERE d.day = $1`,
        [date],
      );
      if (rows.length === 0) return null;
      const { complete, records } = rows[0];
      return {
        complete,
        records: records
          .map((record) => ({ ...record, figures: pickFigures(record.figures) }))
          .sort((a, b) => (a.user < b.user ? -1 : a.user > b.user ? 1 : 0)),
      };
    },
  };
}

/**
 * Summary emails in `summary_email`: a claim is one statement that inserts the row, or moves a
 * failed or expired one to the next attempt, so of any number of replicas one wins it.
 */
export function postgresSummaryEmailLog(pool: pg.Pool): SummaryEmailLog {
  const mark = async (claim: EmailClaim, set: string, values: unknown[]) => {
    await pool.query(`UPDATE summary_email SET ${set} WHERE user_key = $1 AND day = $2 AND attempt = $3`, [
      claim.user,
      claim.date,
      claim.attempt,
      ...values,
    ]);
  };
  return {
    async claim(user, date, holder, leaseMs) {
      const { rows } = await pool.query<{ attempt: number }>(
        `INSERT INTO summary_email AS email (user_key, day, attempt, state, holder, expires_at)
         VALUES ($1, $2, 1, 'claimed', $3, now() + $4 * interval '1 millisecond')
         ON CONFLICT (user_key, day) DO UPDATE SET attempt = email.attempt + 1, state = 'claimed',
           holder = excluded.holder, expires_at = excluded.expires_at, error = NULL
         WHERE email.state = 'failed' OR (email.state = 'claimed' AND email.expires_at < now())
         RETURNING attempt`,
        [user, date, holder, leaseMs],
      );
      return rows.length === 1 ? { user, date, attempt: rows[0].attempt } : null;
    },
    markSent: (claim, address) => mark(claim, `state = 'sent', sent_at = now(), address = $4`, [address]),
    markFailed: (claim, error) => mark(claim, `state = 'failed', error = $4`, [error]),
    async status(user, date) {
      const { rows } = await pool.query<{
        state: 'claimed' | 'sent' | 'failed';
        attempt: number;
        sent_at: Date | null;
        error: string | null;
      }>('SELECT state, attempt, sent_at, error FROM summary_email WHERE user_key = $1 AND day = $2', [
        user,
        date,
      ]);
      const row = rows[0];
      if (row === undefined) return null;
      return {
        state: row.state,
        attempts: row.attempt,
        sentAt: row.sent_at?.toISOString() ?? null,
        error: row.error,
      };
    },
  };
}

/** Users' own choices in `summary_subscriber`; a null address is an opt-out. */
export function postgresSummarySubscribers(pool: pg.Pool): SummarySubscribers {
  return {
    async set(user, address) {
      // A null address is kept: it is the user's opt-out, which wins over the config's listing.
      await pool.query(
        `INSERT INTO summary_subscriber (user_key, address) VALUES ($1, $2)
         ON CONFLICT (user_key) DO UPDATE SET address = excluded.address`,
        [user, address],
      );
    },
    async list() {
      const { rows } = await pool.query<{ user_key: string; address: string | null }>(
        'SELECT user_key, address FROM summary_subscriber',
      );
      return new Map(rows.map((row) => [row.user_key, row.address]));
    },
  };
}
