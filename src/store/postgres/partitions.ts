import type pg from 'pg';
import { transactionOn, type Queryable } from './connect';
import { nextBucketStart, periodStart } from '../../domain/time';
import { LOCK_NAMESPACE, LOCKS } from './locks';

/** `usage_hour_p2025_09` for `2025-09`. */
export function hourPartitionName(month: string): string {
  if (!/^\d{4}-\d{2}$/.test(month)) throw new Error(`not a month: ${month}`);
  return `usage_hour_p${month.replace('-', '_')}`;
}

/**
 * Makes the monthly partitions of usage_hour that `months` (`YYYY-MM`) need, each in a short
 * transaction of its own: created apart and then attached, which takes only a SHARE UPDATE
 * EXCLUSIVE lock on usage_hour, so readers never wait for it (a CREATE … PARTITION OF would lock
 * them out until the ingestion's transaction ended).
 */
export async function ensureHourPartitions(client: pg.ClientBase, months: Iterable<string>): Promise<void> {
  for (const month of new Set(months)) {
    const name = hourPartitionName(month);
    if (await exists(client, name)) continue;
    const from = new Date(periodStart(month)).toISOString();
    const to = new Date(nextBucketStart('MONTH', periodStart(month))).toISOString();
    await transactionOn(client, async (tx) => {
      await tx.query('SELECT pg_advisory_xact_lock($1, $2)', [LOCK_NAMESPACE, LOCKS.partition]);
      if (await exists(tx, name)) return;
      // The name is made of digits above; the bounds are ISO instants.
      await tx.query(`CREATE TABLE ${name} (LIKE usage_hour INCLUDING ALL)`);
      await tx.query(
        `ALTER TABLE usage_hour ATTACH PARTITION ${name} FOR VALUES FROM ('${from}') TO ('${to}')`,
      );
    });
  }
}

async function exists(db: Queryable, table: string): Promise<boolean> {
  const { rows } = await db.query<{ exists: boolean }>('SELECT to_regclass($1) IS NOT NULL AS exists', [
    table,
  ]);
  return rows[0].exists;
}
