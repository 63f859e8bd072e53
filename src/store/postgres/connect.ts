import pg from 'pg';
import type { Logger } from '../../log';

/** A pool, or one client of it inside a transaction: what a query runs on. */
export type Queryable = Pick<pg.Pool | pg.ClientBase, 'query'>;

export interface PoolOptions {
  /** Connections at most; a query beyond them waits for one to come free. */
  max: number;
  /** The server cancels a statement running longer (PostgreSQL's statement_timeout). */
  statementTimeoutMs: number;
  /** How long a query waits for a connection (to open, or to come free) before it fails. */
  connectionTimeoutMs?: number;
}

/**
 * The settings every connection of the store starts its session with, whatever the server, the
 * database or the role sets (`ALTER DATABASE … SET datestyle …`): dates and times are written and
 * read as ISO text in UTC (`day::text` is `2025-09-21`, not `21/09/2025`), intervals in PostgreSQL's
 * own style, and floats in full (the default since PostgreSQL 12, but a database may lower it).
 */
export const SESSION_SETTINGS = {
  DateStyle: 'ISO,YMD',
  TimeZone: 'UTC',
  IntervalStyle: 'postgres',
  extra_float_digits: '1',
} as const;

/**
 * How to connect to `url`: the URL itself, and SESSION_SETTINGS as the connection's startup
 * `options` (`-c name=value` each, applied before the first statement, at no round trip). Options
 * the URL (`?options=…`) or PGOPTIONS give are kept, before ours: a later `-c` of a setting wins.
 * The URL's are moved out of it, for node-postgres lets a URL's parameters replace the config's.
 */
export function connectionConfig(url: string): Pick<pg.ClientConfig, 'connectionString' | 'options'> {
  let connectionString = url;
  let given = process.env.PGOPTIONS;
  // Not through `new URL`: node-postgres reads URLs it cannot parse (`postgres://user@/db`).
  let found: RegExpExecArray | null;
  while ((found = /([?&])options=([^&#]*)/.exec(connectionString)) !== null) {
    // Decoded as node-postgres decodes it, and the last one given, as it keeps.
    given = new URLSearchParams(`options=${found[2]}`).get('options') ?? undefined;
    const before = connectionString.slice(0, found.index);
    const after = connectionString.slice(found.index + found[0].length);
    connectionString = after.startsWith('&') ? `${before}${found[1]}${after.slice(1)}` : `${before}${after}`;
  }
  const ours = Object.entries(SESSION_SETTINGS).map(([name, value]) => `-c ${name}=${value}`);
  return { connectionString, options: [given?.trim(), ...ours].filter(Boolean).join(' ') };
}

/** A pool over `url`. Nothing connects until the first query. */
export function openPool(url: string, options: PoolOptions, log: Logger): pg.Pool {
  const pool = new pg.Pool({
    ...connectionConfig(url),
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
 * Runs `fn` in one transaction on one client of `pool`: committed when it resolves, rolled back
 * when it throws. A client whose connection broke is destroyed rather than returned to the pool.
 */
export async function inTransaction<T>(pool: pg.Pool, fn: (client: pg.ClientBase) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  let broken: Error | undefined;
  // A connection that breaks between two statements says so by an event, not by a rejection:
  // unheard, it would end the process. The next statement then fails, and the batch with it.
  const onError = (err: Error) => (broken = err);
  client.on('error', onError);
  try {
    return await transactionOn(client, fn);
  } catch (err) {
    broken ??= (err as { rollbackFailed?: Error }).rollbackFailed;
    throw err;
  } finally {
    client.off('error', onError);
    client.release(broken);
  }
}

/**
 * Runs `fn` in one transaction on a client the caller holds (and listens to for errors). A failed
 * ROLLBACK is attached to the error as `rollbackFailed`: the connection is then unusable.
 */
export async function transactionOn<T>(
  client: pg.ClientBase,
  fn: (client: pg.ClientBase) => Promise<T>,
): Promise<T> {
  await client.query('BEGIN');
  try {
    const result = await fn(client);
    await client.query('COMMIT');
    return result;
  } catch (err) {
    await client.query('ROLLBACK').catch((rollbackError: Error) => {
      if (typeof err === 'object' && err !== null) Object.assign(err, { rollbackFailed: rollbackError });
    });
    throw err;
  }
}

/**
 * Runs `fn` in the client's transaction with sequential scans off, then puts the setting back.
 * For the scans for damaged rows: a partial index answers them (empty in a sound store), but the
 * planner cannot tell how few rows its predicate keeps, and on a large or unvacuumed table chose
 * to read every row of every batch (21 s for a year of roll-ups without autovacuum). When `fn`
 * fails the transaction is rolled back, and the setting, local to it, with it: nothing is put
 * back then, for an aborted transaction would refuse it and hide `fn`'s error.
 */
export async function withIndexScans<T>(tx: pg.ClientBase, fn: () => Promise<T>): Promise<T> {
  const { rows } = await tx.query<{ before: string }>(
    "SELECT current_setting('enable_seqscan') AS before, set_config('enable_seqscan', 'off', true)",
  );
  const result = await fn();
  await tx.query("SELECT set_config('enable_seqscan', $1, true)", [rows[0].before]);
  return result;
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

const TRANSIENT_SQLSTATES = new Set([
  '57P01', // admin_shutdown: the server is restarting
  '57P02', // crash_shutdown
  '57P03', // cannot_connect_now: the server is starting
  '40001', // serialization_failure
  '40P01', // deadlock_detected
]);
const TRANSIENT_SOCKET_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT']);

/**
 * An error after which the same transaction may succeed if tried again: the connection or the
 * server went (SQLSTATE class 08, a shutdown), or the server chose this transaction to fail.
 * See https://www.postgresql.org/docs/current/errcodes-appendix.html.
 */
export function isTransient(err: unknown): boolean {
  // Not `instanceof Error`: socket errors may come from another realm (a VM context, a worker).
  if (typeof err !== 'object' || err === null) return false;
  const { code, message } = err as { code?: unknown; message?: unknown };
  if (typeof code === 'string' && (code.startsWith('08') || TRANSIENT_SQLSTATES.has(code))) return true;
  if (typeof code === 'string' && TRANSIENT_SOCKET_CODES.has(code)) return true;
  // node-postgres names these in the message only.
  return (
    typeof message === 'string' &&
    /Connection terminated|timeout exceeded when trying to connect/i.test(message)
  );
}
