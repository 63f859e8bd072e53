import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import type { Logger } from '../../log';

/** A pool, or one client of it inside a transaction: what a query runs on. */
export type Queryable = Pick<pg.Pool | pg.PoolClient, 'query'>;

export interface PoolOptions {
  /** Connections at most; a query beyond them waits for one to come free. */
  max: number;
  /** The server cancels a statement running longer (PostgreSQL's statement_timeout). */
  statementTimeoutMs: number;
  /** How long a query waits for a connection (to open, or to come free) before it fails. */
  connectionTimeoutMs?: number;
}

/** A pool over `url`. Nothing connects until the first query. */
export function openPool(url: string, options: PoolOptions, log: Logger): pg.Pool {
  const pool = new pg.Pool({
    connectionString: url,
    max: options.max,
    statement_timeout: options.statementTimeoutMs,
    connectionTimeoutMillis: options.connectionTimeoutMs ?? 10_000,
    idleTimeoutMillis: 60_000,
    application_name: 'carbonledger',
  });
  // An idle connection the server dropped (a restart, a failover) is only news: the pool opens
  // another for the next query. Unhandled, this event would end the process.
  pool.on('error', (err) =>
    log.warn('database connection lost', { url: redactUrl(url), error: err.message }),
  );
  return pool;
}

/**
 * Runs `fn` in one transaction on one client: committed when it resolves, rolled back when it
 * throws. A client whose connection broke is destroyed rather than returned to the pool.
 */
export async function inTransaction<T>(pool: pg.Pool, fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  let broken: Error | undefined;
  try {
    await client.query('BEGIN');
    const result = await fn(client);
    await client.query('COMMIT');
    return result;
  } catch (err) {
    await client.query('ROLLBACK').catch((rollbackError: Error) => (broken = rollbackError));
    throw err;
  } finally {
    client.release(broken);
  }
}

/** Streams rows in COPY's text format (see codec.ts) into `table` on `client`, in chunks. */
export async function copyRows(client: pg.PoolClient, table: string, rows: readonly string[]): Promise<void> {
  if (rows.length === 0) return;
  const CHUNK_ROWS = 2000;
  const chunks = function* () {
    for (let at = 0; at < rows.length; at += CHUNK_ROWS) yield rows.slice(at, at + CHUNK_ROWS).join('');
  };
  await pipeline(Readable.from(chunks()), client.query(copyFrom(`COPY ${table} FROM STDIN`)));
}

/** `url` as it may be logged: the password replaced by `***`. */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password !== '') parsed.password = '***';
    return parsed.toString();
  } catch {
    // Not a URL we can parse: show its scheme at most, never what might be a password.
    return url.replace(/^([a-z]+:\/\/).*$/i, '$1…');
  }
}
