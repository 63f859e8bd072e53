import type pg from 'pg';
import type { IngestBatch } from '../../domain/usage';
import type { Logger } from '../../log';
import {
  StoreLockedError,
  type ApplyOptions,
  type StoreWriter,
  type WriterHolder,
  type WriterOptions,
} from '../store';
import { applyBatchRetrying } from './apply';
import { LOCK_NAMESPACE, LOCKS } from './locks';

/** PostgreSQL keeps 63 bytes of an application_name. */
const NAME_PREFIX = 'carbonledger writer: ';

/**
 * The store's one writer: a session advisory lock held on a connection of its own for as long as
 * the writer lives, so a process that dies lets the next writer in with its connection. The
 * holder's purpose is its connection's application_name, which is how others are told who it is.
 */
export async function openPostgresWriter(
  pool: pg.Pool,
  options: WriterOptions,
  settings: { retryMs: number; log: Logger },
): Promise<StoreWriter> {
  const deadline = Date.now() + (options.waitMs ?? 0);
  const client = await pool.connect();
  try {
    for (;;) {
      const { rows } = await client.query<{ taken: boolean }>(
        'SELECT pg_try_advisory_lock($1, $2) AS taken',
        [LOCK_NAMESPACE, LOCKS.writer],
      );
      if (rows[0]?.taken) break;
      if (Date.now() >= deadline) throw new StoreLockedError('the PostgreSQL store', await holderOf(client));
      await new Promise((resolve) =>
        setTimeout(resolve, Math.min(options.pollMs ?? 250, deadline - Date.now())),
      );
      options.signal?.throwIfAborted();
    }
    await client.query(`SELECT set_config('application_name', $1, false)`, [
      `${NAME_PREFIX}${options.purpose}`.slice(0, 63),
    ]);
  } catch (err) {
    client.release();
    throw err;
  }
  let released = false;
  return {
    async applyBatch(batch: IngestBatch, options?: ApplyOptions) {
      if (released) throw new Error('this writer was released');
      const { keptHours } = await applyBatchRetrying(pool, batch, { ...options, ...settings });
      return { keptHours };
    },
    async release() {
      if (released) return;
      released = true;
      try {
        await client.query('SELECT pg_advisory_unlock($1, $2)', [LOCK_NAMESPACE, LOCKS.writer]);
        client.release();
      } catch (err) {
        // A connection that failed takes its session lock with it.
        client.release(err as Error);
      }
    },
  };
}

async function holderOf(client: pg.PoolClient): Promise<WriterHolder | undefined> {
  const { rows } = await client.query<{ pid: number; name: string; started: string; host: string | null }>(
    `SELECT a.pid, a.application_name AS name, a.backend_start::text AS started, a.client_hostname AS host
     FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
     WHERE l.locktype = 'advisory' AND l.classid = $1 AND l.objid = $2 AND l.granted`,
    [LOCK_NAMESPACE, LOCKS.writer],
  );
  const row = rows[0];
  if (row === undefined) return undefined;
  return {
    pid: row.pid,
    hostname: row.host ?? 'the database server',
    startedAt: row.started,
    purpose: row.name.startsWith(NAME_PREFIX) ? row.name.slice(NAME_PREFIX.length) : row.name,
  };
}
