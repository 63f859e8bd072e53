import { readdir, realpath, stat } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import type pg from 'pg';
import { loadConfig, StoreSchema, type StoreConfig } from '../config';
import { LEVELS } from '../domain/levels';
import { jsonLogger } from '../log';
import { capabilitiesOf, summaryStoresFor } from '../store/capabilities';
import { copyStore, CopyMismatchError, NotACopyError, type CopyReport } from '../store/copy';
import {
  checkSummariesCopy,
  copyCapabilities,
  copySummaries,
  type CapabilitiesCopied,
  type SummariesCopied,
} from '../store/copy-capabilities';
import { openStore } from '../store/open';
import { withWriter, type Store } from '../store/store';
import { dataDirProblem } from './data-dir';
import { UsageError } from './usage-error';

export const EXIT_COPY_DIFFERS = 3;
const DEFAULT_LOCK_WAIT_SECONDS = 600;

/** `carbonledger copy-store --from STORE --to STORE`: see COMMAND_HELP['copy-store']. */
export async function copyStoreCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: { from: { type: 'string' }, to: { type: 'string' }, 'lock-wait': { type: 'string' } },
    strict: true,
  });
  const lockWaitMs = lockWait(values['lock-wait']);
  const from = await storeOf('from', values.from, { mustExist: true });
  // The source first, and nothing written anywhere until it is proven a store: not even `--to`'s
  // directory created, nor tables in a source database that holds none.
  const sourceSchema = from.kind === 'postgres' ? await postgresSource(from.url) : 'current';
  const to = await storeOf('to', values.to, { mustExist: false });
  if (await sameStore(from, to)) throw new UsageError(SAME_STORE);
  if (to.kind === 'postgres') await refuseForeignDatabase(to.url);
  const log = jsonLogger();
  // Read as it is; only a store of an older schema is brought to this build's, as every command does.
  const source = await openStore(from, log, { migrate: sourceSchema === 'older' });
  try {
    const target = await openStore(to, log);
    try {
      // Before either writer is taken: the same database twice would wait on its own lock.
      if (await sameDatabase(source, target)) throw new UsageError(SAME_STORE);
      const lock = { purpose: 'carbonledger copy-store', waitMs: lockWaitMs };
      const summaries = [summaryStoresFor(source, from), summaryStoresFor(target, to)] as const;
      // Both writers held: nothing ingests into the source while it is read, nor into the target.
      const [report, copied, summarised] = await withWriter(source, lock, () =>
        withWriter(target, lock, async (writer) => {
          // Proven an earlier copy of this source (or empty) before anything is written.
          await checkSummariesCopy(...summaries);
          const usage = await copyStore(source, target, writer, { log });
          return [
            usage,
            await copyCapabilities(capabilitiesOf(from, source), capabilitiesOf(to, target)),
            await copySummaries(...summaries),
          ] as const;
        }),
      );
      process.stdout.write(summary(report) + alsoCopied(copied, summarised));
      return 0;
    } finally {
      await target.close();
    }
  } catch (err) {
    if (err instanceof NotACopyError) throw new UsageError(`--to: ${err.message}`);
    if (err instanceof CopyMismatchError) {
      process.stderr.write(`carbonledger copy-store: copied, but the copy differs: ${err.message}\n`);
      return EXIT_COPY_DIFFERS;
    }
    throw err;
  } finally {
    await source.close();
  }
}

const SAME_STORE = '--from and --to name the same store (however named, source and target are one store)';

function lockWait(value: string | undefined): number {
  if (value === undefined) return DEFAULT_LOCK_WAIT_SECONDS * 1000;
  const seconds = Number(value);
  if (!Number.isFinite(seconds) || seconds < 0) throw new UsageError('--lock-wait: expected seconds ≥ 0');
  return seconds * 1000;
}

/**
 * A store named on the command line: a postgres:// URL, a config file (its `store` section), or
 * a JSON store's data directory. The environment's DATABASE_URL and DATA_DIR play no part: the
 * command line names both stores.
 */
async function storeOf(
  flag: string,
  value: string | undefined,
  options: { mustExist: boolean },
): Promise<StoreConfig> {
  if (value === undefined || value === '')
    throw new UsageError(`--${flag}: expected a data directory, a postgres:// URL or a config file`);
  if (/^postgres(ql)?:\/\//i.test(value)) {
    const parsed = StoreSchema.safeParse({ kind: 'postgres', url: value });
    if (!parsed.success) throw new UsageError(`--${flag}: not a valid postgres:// URL`);
    return parsed.data;
  }
  const found = await stat(value).catch(() => undefined);
  if (found?.isFile()) {
    const store = loadConfig(value, {}).store;
    if (store.kind === 'json' && !options.mustExist) await refuseForeignDirectory(flag, store.dataDir);
    return store;
  }
  if (found === undefined && options.mustExist) throw new UsageError(`--${flag}: ${value} does not exist`);
  if (found !== undefined && !found.isDirectory())
    throw new UsageError(`--${flag}: ${value} is neither a directory nor a file`);
  if (!options.mustExist) {
    await refuseForeignDirectory(flag, value);
    const problem = await dataDirProblem(value);
    if (problem !== null) throw new UsageError(`--${flag}: ${value} cannot hold a store: ${problem}`);
  }
  return StoreSchema.parse({ kind: 'json', dataDir: value });
}

/** What `--from`'s database holds: a store of this build's schema or an older one; else refused. */
async function postgresSource(url: string): Promise<'current' | 'older'> {
  const { MIGRATIONS, SchemaTooNewError } = await import('../store/postgres');
  const version = await onDatabase('from', url, async (client) => {
    const { rows } = await client.query<{ store: boolean }>(
      "SELECT to_regclass('schema_migration') IS NOT NULL AS store",
    );
    if (!rows[0].store) return null;
    const versions = await client.query<{ newest: number | null }>(
      'SELECT max(version) AS newest FROM schema_migration',
    );
    return versions.rows[0].newest;
  });
  if (version === null)
    throw new UsageError(
      `--from: the database ${databaseName(url)} holds no store (no schema_migration table)`,
    );
  const newest = MIGRATIONS.at(-1)?.version ?? 0;
  if (version > newest) {
    throw new SchemaTooNewError(
      `--from: the database's schema is at version ${version}, newer than this carbonledger knows ` +
        `(${newest}): run the newer carbonledger`,
    );
  }
  return version < newest ? 'older' : 'current';
}

/**
 * Refuses a target database that holds tables but no store: someone else's, not ours to fill. One
 * that does not exist is left to the open, which says it cannot be reached.
 */
async function refuseForeignDatabase(url: string): Promise<void> {
  const foreign = await onDatabase('to', url, async (client) => {
    const { rows } = await client.query<{ store: boolean; table: string | null }>(
      `SELECT to_regclass('schema_migration') IS NOT NULL AS store,
              (SELECT min(tablename) FROM pg_tables WHERE schemaname = current_schema()) AS table`,
    );
    return rows[0].store ? null : rows[0].table;
  }).catch((err: unknown) => {
    if (err instanceof UsageError) return null;
    throw err;
  });
  if (foreign === null) return;
  throw new UsageError(
    `--to: the database ${databaseName(url)} is not empty and holds no store (it holds the table ` +
      `${JSON.stringify(foreign)}): copy-store writes into a PostgreSQL database only when it is empty or holds a store`,
  );
}

/** Runs `work` on a connection of its own to `url`; a database that does not exist is `--flag`'s usage error. */
async function onDatabase<T>(flag: string, url: string, work: (client: pg.Client) => Promise<T>): Promise<T> {
  const { default: pgModule } = await import('pg');
  const { connectionConfig } = await import('../store/postgres/connect');
  const client = new pgModule.Client(connectionConfig(url));
  client.on('error', () => undefined);
  try {
    await client.connect();
  } catch (err) {
    if ((err as { code?: string }).code === '3D000')
      throw new UsageError(`--${flag}: the database ${databaseName(url)} does not exist`);
    throw err;
  }
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

const databaseName = (url: string): string =>
  JSON.stringify(decodeURIComponent(new URL(url).pathname.slice(1)) || '(the default)');

/** Refuses a target directory that holds files but no store: someone else's, not ours to fill. */
async function refuseForeignDirectory(flag: string, dir: string): Promise<void> {
  // One that cannot be listed (missing, a file, no permission) is left to the checks that name why.
  const names = await readdir(dir).catch(() => []);
  if (names.length === 0 || names.some((name) => STORE_NAMES.has(name))) return;
  throw new UsageError(
    `--${flag}: ${dir} is not empty and holds no store (it holds ${JSON.stringify(names.sort()[0])}): ` +
      'copy-store writes a JSON store only into a new or empty directory, or one holding a store',
  );
}

/** What the JSON store keeps at the top of its data directory (see JsonLayout and the capabilities). */
const STORE_NAMES = new Set([
  'usage',
  'ledger',
  'journal.json',
  'index',
  'version',
  'carbon',
  'sinks',
  'instances',
  'project-users',
  'quarantine',
  'summaries',
  'ingest.lock',
  'ingest.lock.takeover',
]);

/** Two JSON stores in one directory, however named (`.`, `..`, symbolic links). */
async function sameStore(a: StoreConfig, b: StoreConfig): Promise<boolean> {
  if (a.kind === 'json' && b.kind === 'json')
    return (await canonical(a.dataDir)) === (await canonical(b.dataDir));
  if (a.kind === 'postgres' && b.kind === 'postgres') {
    const [x, y] = [new URL(a.url), new URL(b.url)];
    return (
      x.hostname === y.hostname && (x.port || '5432') === (y.port || '5432') && x.pathname === y.pathname
    );
  }
  return false;
}

/** The real path of `path`, or of its nearest existing ancestor joined with the rest. */
async function canonical(path: string): Promise<string> {
  const absolute = resolve(path);
  try {
    return await realpath(absolute);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT' || dirname(absolute) === absolute) return absolute;
    return join(await canonical(dirname(absolute)), basename(absolute));
  }
}

/** Two opened PostgreSQL stores in one database, however their URLs name it. */
async function sameDatabase(a: Store, b: Store): Promise<boolean> {
  const identityOf = (store: Store): Promise<string | null> => {
    const candidate = store as Partial<Identified>;
    return typeof candidate.identity === 'function' ? candidate.identity() : Promise.resolve(null);
  };
  const [x, y] = await Promise.all([identityOf(a), identityOf(b)]);
  return x !== null && x === y;
}

/** A store that can say which database it is (the PostgreSQL store). */
interface Identified {
  identity(): Promise<string | null>;
}

function summary(report: CopyReport): string {
  const keys = LEVELS.map((level) => `${level} ${report.keys[level]}`).join(', ');
  const totals = report.totals;
  const run =
    report.daysCopied === 0
      ? report.hours === 0
        ? 'nothing to copy: the source holds no hours'
        : `nothing to copy: the target held all ${plural(report.heldBefore, 'hour')} already`
      : `copied ${plural(report.hoursCopied, 'hour')} in ${plural(report.daysCopied, 'day')}` +
        (report.resumedAt === null
          ? ''
          : ` (resumed at ${report.resumedAt}; the target held ${plural(report.heldBefore, 'hour')} before)`);
  return (
    `carbonledger copy-store: ${run}; the target holds ${plural(report.hours, 'hour')} ` +
    `(${report.okHours} ok, ${report.failedHours} failed); keys: ${keys}\n` +
    `verified: hours, keys and every year's totals equal; all projects: ` +
    `${round(totals.busyKwh + totals.idleKwh)} kWh CPU, ${round(totals.busyGco2eq + totals.idleGco2eq)} gCO2eq CPU\n`
  );
}

const plural = (count: number, noun: string): string => `${count} ${noun}${count === 1 ? '' : 's'}`;

function alsoCopied(copied: CapabilitiesCopied, summarised: SummariesCopied): string {
  return (
    `also copied: ${copied.hostHistories} instance host histories, ${copied.deliveries} sink deliveries, ` +
    `${copied.projectUserDays} days of usage by project and user, ${summarised.summaryDays} days of daily ` +
    `summaries, ${summarised.subscribers} users' summary email choices\n`
  );
}

const round = (value: number): string => String(Number(value.toPrecision(12)));
