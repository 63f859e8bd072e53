import type pg from 'pg';
import type { Level } from '../../domain/levels';
import type { Logger } from '../../log';
import { withIndexScans } from './connect';
import { undecodableFigures } from './codec';
import { rewriteDays, settleRollups, type Candidate } from './rollups';

type Kind = 'day' | 'month' | 'year';

interface Table {
  table: string;
  /** The row's period as text (`YYYY-MM-DD`, `YYYY-MM`, `YYYY`). */
  period: string;
  /** Whether the row is of the period `t.period`, by its key's column. */
  matches: string;
  /** What it rolls up. */
  from: string;
}

const TABLES: Record<Kind, Table> = {
  day: {
    table: 'usage_day',
    period: "to_char(r.day, 'YYYY-MM-DD')",
    matches: 'r.day = t.period::date',
    from: 'hours',
  },
  month: {
    table: 'usage_month',
    period: "to_char(r.month, 'YYYY-MM')",
    matches: "r.month = (t.period || '-01')::date",
    from: 'days',
  },
  year: {
    table: 'usage_year',
    period: 'r.year::text',
    matches: 'r.year = t.period::smallint',
    from: 'months',
  },
};

/**
 * A roll-up row whose figures codec.ts cannot decode: written exactly as migration 11's partial
 * indexes usage_{day,month,year}_undecodable are, so the planner answers from those, empty in a
 * sound store, instead of reading every row.
 */
const UNDECODABLE = undecodableFigures('r');

/** Every undecodable roll-up row, of every kind, with its key. */
export const DAMAGED_ROLLUPS = (Object.keys(TABLES) as Kind[])
  .map(
    (kind) => `SELECT '${kind}' AS kind, r.key_id, k.level, k.key, ${TABLES[kind].period} AS period,
      octet_length(r.figures) AS bytes, cardinality(r.machines) + 1 AS parts
    FROM ${TABLES[kind].table} r JOIN usage_key k ON k.id = r.key_id WHERE ${UNDECODABLE}`,
  )
  .join(' UNION ALL ');

/** A damaged roll-up row, taken out of its table and kept in usage_rollup_set_aside. */
export interface SetAsideRollup {
  kind: Kind;
  key_id: number;
  level: Level;
  key: string;
  period: string;
}

interface Damaged extends SetAsideRollup {
  bytes: number;
  parts: number;
}

/**
 * Takes the undecodable day, month and year rows out, in the batch's transaction, before anything
 * of the batch reads them: each is copied to usage_rollup_set_aside with its reason, deleted, and
 * logged. No hour is touched. `rebuildSetAside` then rebuilds them from what is below them, once
 * undecodable hours are taken out too (a day is summed from its hours).
 */
export async function setAsideDamagedRollups(tx: pg.ClientBase, log: Logger): Promise<SetAsideRollup[]> {
  const kinds = Object.keys(TABLES) as Kind[];
  const { rows: damaged } = await withIndexScans(tx, () => tx.query<Damaged>(DAMAGED_ROLLUPS));
  for (const kind of kinds) {
    const rows = damaged.filter((row) => row.kind === kind);
    if (rows.length === 0) continue;
    const { table, matches, from } = TABLES[kind];
    // The table and its expressions are this module's constants, never input.
    await tx.query(
      `WITH taken AS (
         DELETE FROM ${table} r USING unnest($2::int[], $3::text[], $4::text[]) AS t(key_id, period, reason)
         WHERE r.key_id = t.key_id AND ${matches}
         RETURNING r.key_id, t.period, r.machines, r.figures, t.reason)
       INSERT INTO usage_rollup_set_aside (kind, key_id, period, machines, figures, reason)
       SELECT $1, key_id, period, machines, figures, reason FROM taken`,
      [kind, rows.map((row) => row.key_id), rows.map((row) => row.period), rows.map(reasonOf)],
    );
    for (const row of rows) {
      // `level` names the log line's severity: the key's level goes as keyLevel (and in the message).
      log.warn(
        `set aside the undecodable ${kind} roll-up of ${row.level} ${JSON.stringify(row.key)} for ` +
          `${row.period}: it is rebuilt from its ${from}`,
        {
          keyLevel: row.level,
          key: row.key,
          period: row.period,
          reason: `${row.bytes} bytes of figures for ${row.parts} parts`,
        },
      );
    }
  }
  return damaged.map(({ kind, key_id, level, key, period }) => ({ kind, key_id, level, key, period }));
}

function reasonOf(row: Damaged): string {
  return (
    `the stored ${row.kind} roll-up of ${row.level} ${JSON.stringify(row.key)} for ${row.period} could not ` +
    `be read (${row.bytes} bytes of figures for ${row.parts} parts); it was rebuilt from its ${TABLES[row.kind].from}`
  );
}

/**
 * Rebuilds what `setAsideDamagedRollups` took out from the rows below it: each day from its hours,
 * then the months of those days and the damaged months from their days, then the years of all
 * these and the damaged years from their months. Roll-ups equal their hours afterwards, as ever.
 */
export async function rebuildSetAside(tx: pg.ClientBase, setAside: readonly SetAsideRollup[]): Promise<void> {
  if (setAside.length === 0) return;
  const ofKind = (kind: Kind) => setAside.filter((row) => row.kind === kind);
  const months = await rewriteDays(
    tx,
    ofKind('day').map(({ key_id, period }) => ({ id: key_id, date: period })),
  );
  for (const { key_id, period } of ofKind('month')) months.add(`${key_id}/${period}`);
  const years = new Set(ofKind('year').map(({ key_id, period }) => `${key_id}/${period}`));
  const keys = new Map<number, Candidate>(
    setAside.map(({ key_id, level, key }) => [key_id, { id: key_id, level, key }]),
  );
  await settleRollups(tx, [...keys.values()], months, years);
}
