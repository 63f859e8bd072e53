import type pg from 'pg';
import type { Delivery, DeliveryLog } from '../deliveries';
import { inTransaction } from './connect';

/** Each sink's deliveries in `sink_delivery` (migration 6), one row a match key. */
export function postgresDeliveryLog(pool: pg.Pool): DeliveryLog {
  return {
    async read(sink) {
      const { rows } = await pool.query<{ delivery: Delivery }>(
        'SELECT delivery FROM sink_delivery WHERE sink = $1',
        [sink],
      );
      // In key order by UTF-16 code units, as the JSON store gives them, whatever the collation.
      return rows.map((row) => row.delivery).sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    },
    async sinks() {
      const { rows } = await pool.query<{ sink: string }>('SELECT DISTINCT sink FROM sink_delivery');
      return rows.map((row) => row.sink).sort();
    },
    async record(sink, recorded) {
      if (recorded.length === 0) return;
      // The last of a key wins, as in the JSON store; one statement cannot upsert a row twice.
      const byKey = new Map(recorded.map((delivery) => [delivery.key, delivery]));
      await inTransaction(pool, (tx) =>
        tx.query(
          `INSERT INTO sink_delivery (sink, key, delivery)
           SELECT $1, * FROM unnest($2::text[], $3::jsonb[])
           ON CONFLICT (sink, key) DO UPDATE SET delivery = excluded.delivery`,
          [sink, [...byKey.keys()], [...byKey.values()].map((delivery) => JSON.stringify(delivery))],
        ),
      );
    },
  };
}
