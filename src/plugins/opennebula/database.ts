/** The accounting database, whichever engine holds it; SQL uses `?` placeholders in both. */
export interface AccountingDb {
  query<T>(sql: string, params: readonly unknown[]): Promise<T[]>;
  close(): Promise<void>;
}

/**
 * Opens `mysql://user:password@host:port/database` (MySQL or MariaDB, with mysql2) or
 * `sqlite:FILE` (a copied file, read-only, with better-sqlite3). `timeoutMs` bounds connecting and
 * each query on MySQL; SQLite reads a local file.
 */
export async function openAccountingDb(url: string, timeoutMs: number): Promise<AccountingDb> {
  // Each driver is loaded when its engine is used: a process without the source does not hold them.
  if (url.startsWith('sqlite:')) {
    const { default: Database } = await import('better-sqlite3');
    const db = new Database(url.slice('sqlite:'.length), { readonly: true, fileMustExist: true });
    return {
      query: async <T>(sql: string, params: readonly unknown[]) => db.prepare(sql).all(...params) as T[],
      close: async () => void db.close(),
    };
  }
  const { createConnection } = await import('mysql2/promise');
  const connection = await createConnection({ uri: url, connectTimeout: timeoutMs, supportBigNumbers: true });
  return {
    async query<T>(sql: string, params: readonly unknown[]) {
      const [rows] = await connection.query({ sql, timeout: timeoutMs, values: [...params] });
      return rows as T[];
    },
    close: () => connection.end(),
  };
}
