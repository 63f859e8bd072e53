import type pg from 'pg';
import { addBreakdownInto, zeroBreakdown, type Breakdown } from '../../domain/figures';
import { periodStart, DAY_MS } from '../../domain/time';
import type { ProjectUserFigures } from '../project-users';
import { inTransaction } from './connect';
import { iso } from './reads';

/** Usage by project and user in `project_user_hour` (migration 6), one row an hour, project and user. */
export function postgresProjectUsers(pool: pg.Pool): ProjectUserFigures {
  return {
    async replaceHours(hours, rows) {
      if (hours.length === 0) return;
      const replaced = new Set(hours);
      // Rows of one hour, project and user are summed, as the JSON store sums them.
      const sums = new Map<string, { hour: number; project: string; user: string; figures: Breakdown }>();
      for (const row of rows) {
        if (!replaced.has(row.hour)) continue;
        const id = JSON.stringify([row.hour, row.project, row.user]);
        const sum = sums.get(id) ?? {
          hour: row.hour,
          project: row.project,
          user: row.user,
          figures: zeroBreakdown(),
        };
        addBreakdownInto(sum.figures, row.figures);
        sums.set(id, sum);
      }
      const kept = [...sums.values()];
      await inTransaction(pool, async (tx) => {
        await tx.query('DELETE FROM project_user_hour WHERE hour = ANY($1::timestamptz[])', [
          [...replaced].map(iso),
        ]);
        if (kept.length === 0) return;
        await tx.query(
          `INSERT INTO project_user_hour (hour, project, user_key, figures)
           SELECT * FROM unnest($1::timestamptz[], $2::text[], $3::text[], $4::jsonb[])`,
          [
            kept.map((row) => iso(row.hour)),
            kept.map((row) => row.project),
            kept.map((row) => row.user),
            kept.map((row) => JSON.stringify(row.figures)),
          ],
        );
      });
    },
    async days() {
      const { rows } = await pool.query<{ day: string }>(
        `SELECT DISTINCT to_char(hour AT TIME ZONE 'UTC', 'YYYY-MM-DD') AS day FROM project_user_hour`,
      );
      return rows.map((row) => row.day).sort();
    },
    async readDayRows(day) {
      const start = periodStart(day);
      const { rows } = await pool.query<{
        hour: number;
        project: string;
        user_key: string;
        figures: Breakdown;
      }>(
        `SELECT extract(epoch FROM hour)::float8 * 1000 AS hour, project, user_key, figures
         FROM project_user_hour WHERE hour >= $1 AND hour < $2 ORDER BY hour, project, user_key`,
        [iso(start), iso(start + DAY_MS)],
      );
      return rows.map((row) => ({
        hour: row.hour,
        project: row.project,
        user: row.user_key,
        figures: row.figures,
      }));
    },
    async readDay(day, project) {
      const start = periodStart(day);
      const { rows } = await pool.query<{ user_key: string; figures: Breakdown }>(
        `SELECT user_key, figures FROM project_user_hour
         WHERE project = $1 AND hour >= $2 AND hour < $3 ORDER BY hour`,
        [project, iso(start), iso(start + DAY_MS)],
      );
      const totals = new Map<string, Breakdown>();
      for (const { user_key: user, figures } of rows) {
        totals.set(user, addBreakdownInto(totals.get(user) ?? zeroBreakdown(), figures));
      }
      return totals;
    },
  };
}
