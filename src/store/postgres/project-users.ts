import type pg from 'pg';
import {
  addBreakdownInto,
  zeroBreakdown,
  zeroFigures,
  type Breakdown,
  type Figures,
} from '../../domain/figures';
import { periodStart, DAY_MS } from '../../domain/time';
import type { ProjectUserFigures } from '../project-users';
import { decodeBreakdown, encodeBreakdown } from './codec';
import { inTransaction } from './connect';
import { CopyRows, copyRows } from './copy-rows';
import { iso, sharedTextArrays } from './reads';

/**
 * Usage by project and user in `project_user_hour` (migrations 6 and 10), one row an hour, project
 * and user, its figures as codec.ts stores them, written by COPY.
 */
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
        const copied = new CopyRows('project_user_hour (hour, project, user_key, machines, figures)', [
          'timestamptz',
          'text',
          'text',
          'text[]',
          'bytea',
        ]);
        for (const { hour, project, user, figures } of kept) {
          const stored = encodeBreakdown(figures);
          copied.push([hour, project, user, stored.machines, stored.figures]);
        }
        await copyRows(tx, copied);
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
      const { rows } = await pool.query<{ hour: number; project: string; user_key: string } & StoredRow>({
        text: `SELECT extract(epoch FROM hour)::float8 * 1000 AS hour, project, user_key, machines, figures,
           figures_json FROM project_user_hour WHERE hour >= $1 AND hour < $2 ORDER BY hour, project, user_key`,
        values: [iso(start), iso(start + DAY_MS)],
        types: sharedTextArrays(),
      });
      return rows.map((row) => ({
        hour: row.hour,
        project: row.project,
        user: row.user_key,
        figures: figuresOf(row),
      }));
    },
    async readDay(day, project) {
      const start = periodStart(day);
      const { rows } = await pool.query<{ user_key: string } & StoredRow>({
        text: `SELECT user_key, machines, figures, figures_json FROM project_user_hour
         WHERE project = $1 AND hour >= $2 AND hour < $3 ORDER BY hour`,
        values: [project, iso(start), iso(start + DAY_MS)],
        types: sharedTextArrays(),
      });
      const totals = new Map<string, Breakdown>();
      for (const row of rows) {
        const user = row.user_key;
        totals.set(user, addBreakdownInto(totals.get(user) ?? zeroBreakdown(), figuresOf(row)));
      }
      return totals;
    },
  };
}

/** A row as stored since migration 10, or (figures_json) as written before it. */
type StoredRow = { machines: string[] | null; figures: Buffer | null; figures_json: Breakdown | null };

function figuresOf(row: StoredRow): Breakdown {
  const json = row.figures_json;
  if (json === null) return decodeBreakdown({ machines: row.machines!, figures: row.figures! });
  // A metric added since the row was written reads as 0, as it does from the bytea layout.
  const byMachine: Record<string, Figures> = {};
  for (const [machine, figures] of Object.entries(json.byMachine))
    byMachine[machine] = { ...zeroFigures(), ...figures };
  return { all: { ...zeroFigures(), ...json.all }, byMachine };
}
