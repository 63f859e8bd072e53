import type { Connection } from 'mysql2/promise';

/** The accounting database, whichever engine holds it; SQL uses `?` placeholders in both. */
export interface AccountingDb {
  query<T>(sql: string, params: readonly unknown[]): Promise<T[]>;
  close(): Promise<void>;
}

/** A promise rejected with the signal's reason when it aborts (never settled without one). */
function abortion(signal: AbortSignal | undefined): Promise<never> {
  const aborted = new Promise<never>((_, reject) => {
    if (signal?.aborted) reject(signal.reason);
    signal?.addEventListener('abort', () => reject(signal.reason), { once: true });
  });
  aborted.catch(() => undefined);
  return aborted;
}

/**
 * MySQL or MariaDB over one connection. On abort, or after a query failed (timed out: it may still
 * be waiting on a lock), the connection is destroyed rather than ended, since `end` waits for the
 * query in flight, however long another session holds its table.
 */
async function openMysql(url: string, timeoutMs: number, signal?: AbortSignal): Promise<AccountingDb> {
  const aborted = abortion(signal);
  const { createConnection } = await import('mysql2/promise');
  const connecting = createConnection({ uri: url, connectTimeout: timeoutMs, supportBigNumbers: true });
  // A connection made after the fetch was given up on is nobody's to close.
  connecting.then(
    (late) => signal?.aborted && late.destroy(),
    () => undefined,
  );
  const connection: Connection = await Promise.race([connecting, aborted]);
  let broken = false;
  const destroy = () => {
    broken = true;
    connection.destroy();
  };
  signal?.addEventListener('abort', destroy, { once: true });
  return {
    async query<T>(sql: string, params: readonly unknown[]) {
      try {
        const [rows] = await Promise.race([
          connection.query({ sql, timeout: timeoutMs, values: [...params] }),
          aborted,
        ]);
        return rows as T[];
      } catch (err) {
        destroy();
        throw err;
      }
    },
    async close() {
      signal?.removeEventListener('abort', destroy);
      if (broken) return;
      await connection.end();
    },
  };
}

/**
 * Opens `mysql://user:password@host:port/database` (MySQL or MariaDB, with mysql2) or
 * `sqlite:FILE` (a copied file, read-only, with better-sqlite3). `timeoutMs` bounds connecting and
 * each query on MySQL, and `signal` ends its connection at once; SQLite reads a local file.
 */
export async function openAccountingDb(
  url: string,
  timeoutMs: number,
  signal?: AbortSignal,
): Promise<AccountingDb> {
  // Each driver is loaded when its engine is used: a process without the source does not hold them.
  if (url.startsWith('sqlite:')) {
    const { default: Database } = await import('better-sqlite3');
    const db = new Database(url.slice('sqlite:'.length), { readonly: true, fileMustExist: true });
    return {
      query: async <T>(sql: string, params: readonly unknown[]) => db.prepare(sql).all(...params) as T[],
      close: async () => void db.close(),
    };
  }
  return openMysql(url, timeoutMs, signal);
}
