import Database from 'better-sqlite3';
import { createConnection } from 'mysql2/promise';

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
  if (url.startsWith('sqlite:')) {
    const db = new Database(url.slice('sqlite:'.length), { readonly: true, fileMustExist: true });
    return {
      query: async <T>(sql: string, params: readonly unknown[]) => db.prepare(sql).all(...params) as T[],
      close: async () => void db.close(),
    };
  }
  const connection = await createConnection({ uri: url, connectTimeout: timeoutMs, supportBigNumbers: true });
  return {
    async query<T>(sql: string, params: readonly unknown[]) {
      const [rows] = await connection.query({ sql, timeout: timeoutMs, values: [...params] });
      return rows as T[];
    },
    close: () => connection.end(),
  };
}
