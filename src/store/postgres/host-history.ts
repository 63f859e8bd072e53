import type pg from 'pg';
import type { HostHistoryStore, InstanceHostHistory } from '../host-history';
import type { ReadDb } from './read-routing';

/**
 * Each instance's host history in `instance_host_history` (migration 6), one row an instance,
 * rewritten only when it changed (an hourly run reports the same periods again and again). Reads
 * go to `readDb` (the primary, or the API's reads routed to a current standby), writes to the primary.
 */
export function postgresHostHistory(pool: pg.Pool, readDb: ReadDb): HostHistoryStore {
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
      const { rows } = await readDb.query<{ instance: string; history: InstanceHostHistory }>({
        text: 'SELECT instance, history FROM instance_host_history WHERE instance = ANY($1::text[])',
        values: [[...instances]],
      });
      return new Map(rows.map((row) => [row.instance, row.history]));
    },
    async list() {
      const { rows } = await readDb.query<{ instance: string }>({
        text: 'SELECT instance FROM instance_host_history',
      });
      return rows.map((row) => row.instance).sort();
    },
  };
}
