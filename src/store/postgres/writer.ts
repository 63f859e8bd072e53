import pg from 'pg';
import type { IngestBatch } from '../../domain/usage';
import type { Logger } from '../../log';
import {
  StoreLockedError,
  type ApplyOptions,
  type StoreWriter,
  type WriterHolder,
  type WriterOptions,
} from '../store';
import { applyBatchRetrying, type WriterConnection } from './apply';
import { isTransient } from './connect';
import { LOCK_NAMESPACE, LOCKS } from './locks';

/** Transient errors after which the session, and its lock, are still there: the server chose to fail a transaction. */
const SESSION_KEPT = new Set(['40001', '40P01']);

/** PostgreSQL keeps 63 bytes of an application_name. */
const NAME_PREFIX = 'carbonledger writer: ';

/**
 * The store's one writer: a session advisory lock held on a connection of its own, outside the
 * pool, on which the writer's batches are applied too. So a full pool (readers waiting on a slow
 * query) never keeps a batch from its connection, and a batch always runs in the session that
 * holds the lock. A process that dies takes its connection, and the lock, with it. The holder's
 * purpose is its connection's application_name, which is how others are told who it is.
 */
export async function openPostgresWriter(
  clientConfig: pg.ClientConfig,
  options: WriterOptions,
  settings: { retryMs: number; log: Logger },
): Promise<StoreWriter> {
  const session = new WriterSession(clientConfig, options.purpose, settings.log);
  await session.take(options);
  let released = false;
  return {
    async applyBatch(batch: IngestBatch, applyOptions?: ApplyOptions) {
      if (released) throw new Error('this writer was released');
      const { keptHours } = await applyBatchRetrying(session, batch, { ...applyOptions, ...settings });
      return { keptHours };
    },
    async release() {
      if (released) return;
      released = true;
      await session.close();
    },
  };
}

class WriterSession implements WriterConnection {
  private client: pg.Client | undefined;
  /** Set by the connection's error event: the session, and its lock, are gone. */
  private broken = false;

  constructor(
    private readonly config: pg.ClientConfig,
    private readonly purpose: string,
    private readonly log: Logger,
  ) {}

  /** Takes the lock, trying for up to `waitMs`. */
  async take(options: WriterOptions): Promise<void> {
    const deadline = Date.now() + (options.waitMs ?? 0);
    const client = await this.open();
    try {
      while (!(await tryLock(client))) {
        if (Date.now() >= deadline)
          throw new StoreLockedError('the PostgreSQL store', await holderOf(client));
        await new Promise((resolve) =>
          setTimeout(resolve, Math.min(options.pollMs ?? 250, deadline - Date.now())),
        );
        options.signal?.throwIfAborted();
      }
    } catch (err) {
      await this.drop();
      throw err;
    }
  }

  /**
   * The session's connection. One that broke (the database restarted, failed over) is opened
   * again and the lock taken again; if another writer took it meanwhile, this writer stops.
   */
  async connection(): Promise<pg.ClientBase> {
    if (this.client !== undefined && !this.broken) return this.client;
    await this.drop();
    const client = await this.open();
    if (!(await tryLock(client))) {
      const holder = await holderOf(client);
      await this.drop();
      throw new StoreLockedError('the PostgreSQL store', holder);
    }
    this.log.info('writer connection opened again; the writer lock is held again');
    return client;
  }

  lost(err: unknown): boolean {
    const code = (err as { code?: unknown } | null)?.code;
    // A failed query may be the only news of a lost connection: no error event comes for it.
    const connectionGone = isTransient(err) && !(typeof code === 'string' && SESSION_KEPT.has(code));
    if (connectionGone || (err as { rollbackFailed?: unknown } | null)?.rollbackFailed !== undefined) {
      this.broken = true;
    }
    return this.broken;
  }

  async close(): Promise<void> {
    const client = this.client;
    if (client === undefined) return;
    if (!this.broken) {
      await client.query('SELECT pg_advisory_unlock($1, $2)', [LOCK_NAMESPACE, LOCKS.writer]).catch(() => {
        // Closing the connection below ends the session, and its lock with it.
      });
    }
    await this.drop();
  }

  private async open(): Promise<pg.Client> {
    const client = new pg.Client({
      ...this.config,
      application_name: `${NAME_PREFIX}${this.purpose}`.slice(0, 63),
    });
    // Unheard, a broken connection's error event would end the process.
    client.on('error', (err) => {
      this.broken = true;
      this.log.warn('writer connection lost', { error: err.message });
    });
    try {
      await client.connect();
    } catch (err) {
      await client.end().catch(() => undefined);
      throw err;
    }
    this.client = client;
    this.broken = false;
    return client;
  }

  private async drop(): Promise<void> {
    const client = this.client;
    this.client = undefined;
    await client?.end().catch(() => undefined);
  }
}

async function tryLock(client: pg.ClientBase): Promise<boolean> {
  const { rows } = await client.query<{ taken: boolean }>('SELECT pg_try_advisory_lock($1, $2) AS taken', [
    LOCK_NAMESPACE,
    LOCKS.writer,
  ]);
  return rows[0]?.taken === true;
}

async function holderOf(client: pg.ClientBase): Promise<WriterHolder | undefined> {
  const { rows } = await client.query<{ pid: number; name: string; started: number; host: string | null }>(
    `SELECT a.pid, a.application_name AS name, extract(epoch FROM a.backend_start)::float8 * 1000 AS started,
       a.client_hostname AS host
     FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
     WHERE l.locktype = 'advisory' AND l.classid = $1 AND l.objid = $2 AND l.granted
       -- An advisory lock is the database's own: another store on the server holds its own.
       AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())`,
    [LOCK_NAMESPACE, LOCKS.writer],
  );
  const row = rows[0];
  if (row === undefined) return undefined;
  return {
    pid: row.pid,
    hostname: row.host ?? 'the database server',
    // An ISO instant, as the JSON store's lock says it.
    startedAt: new Date(Math.floor(row.started)).toISOString(),
    purpose: row.name.startsWith(NAME_PREFIX) ? row.name.slice(NAME_PREFIX.length) : row.name,
  };
}
