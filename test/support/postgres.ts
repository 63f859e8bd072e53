import { randomBytes } from 'node:crypto';
import pg from 'pg';

/** The machine's PostgreSQL server (trust auth), overridable for another one. */
export const SERVER_URL = process.env.CARBONLEDGER_TEST_POSTGRES ?? 'postgres://postgres@127.0.0.1:5432/test';

export interface TestDatabase {
  /** A URL of the new, empty database. */
  url: string;
  name: string;
  /** Runs one statement on the database (its own connection, closed afterwards). */
  query<T extends pg.QueryResultRow = pg.QueryResultRow>(text: string, values?: unknown[]): Promise<T[]>;
  /** Drops it, closing whatever connections are left. */
  drop(): Promise<void>;
}

/** Runs `text` on a connection of its own to `url`. */
export async function queryOnce<T extends pg.QueryResultRow>(
  url: string,
  text: string,
  values?: unknown[],
): Promise<T[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query<T>(text, values)).rows;
  } finally {
    await client.end();
  }
}

/**
 * A new database with a random name, so tests (and engineers) never share one: on the machine's
 * server, or on `server` (a URL of any database of another, e.g. a test's own cluster).
 */
export async function createTestDatabase(prefix = 'cl_test', server = SERVER_URL): Promise<TestDatabase> {
  const name = `${prefix}_${randomBytes(6).toString('hex')}`;
  await queryOnce(server, `CREATE DATABASE ${name}`);
  const url = new URL(server);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    name,
    query: (text, values) => queryOnce(url.toString(), text, values),
    drop: async () => void (await queryOnce(server, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)),
  };
}
