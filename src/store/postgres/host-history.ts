import type pg from 'pg';
import type { HostHistoryStore, InstanceHostHistory } from '../host-history';

/**
 * Each instance's host history in `instance_host_history` (migration 6), one row an instance,
 * rewritten only when it changed (an hourly run reports the same periods again and again). Reads
 * go to `readPool` (a standby serving the API), writes to the primary.
 */
export function postgresHostHistory(pool: pg.Pool, readPool: pg.Pool): HostHistoryStore {
  return {
    async write(histories) {
      if (histories.size === 0) return;
      await pool.query(
        `INSERT INTO instance_host_history AS h (instance, history)
         SELECT * FROM unnest($1::text[], $2::jsonb[])
         ON CONFLICT (instance) DO UPDATE SET history = excluded.history
         WHERE h.history IS DISTINCT FROM excluded.history`,
        [[...histories.keys()], [...histories.values()].map((history) => JSON.stringify(history))],
      );
    },
    async read(instances) {
      if (instances.length === 0) return new Map();
      const { rows } = await readPool.query<{ instance: string; history: InstanceHostHistory }>(
        'SELECT instance, history FROM instance_host_history WHERE instance = ANY($1::text[])',
        [[...instances]],
      );
      return new Map(rows.map((row) => [row.instance, row.history]));
    },
    async list() {
      const { rows } = await readPool.query<{ instance: string }>(
        'SELECT instance FROM instance_host_history',
      );
      return rows.map((row) => row.instance).sort();
    },
  };
}
