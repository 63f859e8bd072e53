import type pg from 'pg';
import { type InstanceLife, type InstanceObservation, lifeIdentity, upDuring } from '../../domain/instances';
import {
  dropUnobservedHours,
  type InstanceIndex,
  type InstanceIndexView,
  mergeObservations,
} from '../instance-index';
import { inTransaction, type Queryable } from './connect';
import { iso } from './reads';
import type { ReadDb } from './read-routing';

/** The instance index in `instance_life` (one row a life) and `instance_index` (how far it goes). */
export class PostgresInstanceIndex implements InstanceIndex {
  constructor(
    private readonly pool: pg.Pool,
    /** Where `list` reads: the primary, or the API's routed reads. */
    private readonly readDb: ReadDb,
  ) {}

  record(
    observations: readonly InstanceObservation[],
    newestOkHour: number | null,
    replacedHours: readonly number[] = [],
  ): Promise<void> {
    return inTransaction(this.pool, (tx) => recordInstances(tx, observations, newestOkHour, replacedHours));
  }

  async list(from: number, to: number): Promise<InstanceIndexView> {
    const [{ rows: lives }, { rows: index }] = await Promise.all([
      this.readDb.query<{ life: InstanceLife }>({
        text: `SELECT life FROM instance_life WHERE first_hour < $2 AND last_hour_end > $1`,
        values: [iso(from), iso(to)],
      }),
      this.readDb.query<{ through: number | null }>({
        text: 'SELECT extract(epoch FROM through_hour)::float8 * 1000 AS through FROM instance_index',
      }),
    ]);
    return {
      lives: lives
        .map((row) => row.life)
        .filter((life) => upDuring(life, from, to))
        .sort(
          (a, b) =>
            compareText(a.instance, b.instance) ||
            a.spans[0].from - b.spans[0].from ||
            compareText(lifeIdentity(a), lifeIdentity(b)),
        ),
      throughHour: index[0]?.through ?? null,
    };
  }
}

/** Merges observations into the index, in the caller's transaction (a batch's, or its own). */
export async function recordInstances(
  tx: Queryable,
  observations: readonly InstanceObservation[],
  newestOkHour: number | null,
  replacedHours: readonly number[] = [],
): Promise<void> {
  if (newestOkHour !== null) {
    await tx.query('UPDATE instance_index SET through_hour = greatest(through_hour, $1::timestamptz)', [
      iso(newestOkHour),
    ]);
  }
  if (observations.length === 0 && replacedHours.length === 0) return;
  const instances = [...new Set(observations.map((seen) => seen.instance))];
  // The lives observed, and those up in a replaced hour (which lose it if not observed there).
  const replaced =
    replacedHours.length === 0 ? null : [Math.min(...replacedHours), Math.max(...replacedHours)];
  const { rows } = await tx.query<{ identity: string; life: InstanceLife }>(
    `SELECT identity, life FROM instance_life
     WHERE instance = ANY($1::text[]) OR (first_hour <= $3 AND last_hour_end > $2) FOR UPDATE`,
    [instances, replaced && iso(replaced[0]), replaced && iso(replaced[1])],
  );
  const lives = new Map(rows.map((row) => [row.identity, row.life]));
  const removed = [
    ...mergeObservations(lives, observations),
    ...dropUnobservedHours(lives, observations, replacedHours),
  ];
  if (removed.length > 0) {
    await tx.query('DELETE FROM instance_life WHERE identity = ANY($1::text[])', [removed]);
  }
  const merged = [...lives];
  if (merged.length === 0) return;
  await tx.query(
    `INSERT INTO instance_life (identity, instance, first_hour, last_hour_end, life)
     SELECT * FROM unnest($1::text[], $2::text[], $3::timestamptz[], $4::timestamptz[], $5::jsonb[])
     ON CONFLICT (identity) DO UPDATE SET first_hour = excluded.first_hour,
       last_hour_end = excluded.last_hour_end, life = excluded.life`,
    [
      merged.map(([identity]) => identity),
      merged.map(([, life]) => life.instance),
      merged.map(([, life]) => iso(life.spans[0].from)),
      merged.map(([, life]) => iso(Math.max(...life.spans.map((span) => span.to)))),
      merged.map(([, life]) => JSON.stringify(life)),
    ],
  );
}

function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
