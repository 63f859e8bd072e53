import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type pg from 'pg';
import type { Level } from '../../domain/levels';
import type { DayEntry, LedgerHour, MonthRollup, YearRollup } from '../../domain/usage';
import { silentLogger, type Logger } from '../../log';
import type { JobClaims } from '../job-claims';
import type { IntensityCache } from '../../domain/intensity-cache';
import type { KeepsCapabilities, StoreCapabilities, SummaryStores } from '../capabilities';
import type { ReadParts, Store, StoreWriter, WriterOptions } from '../store';
import { postgresDeliveryLog } from './deliveries';
import { postgresHostHistory } from './host-history';
import { postgresProjectUsers } from './project-users';
import { postgresDailySummaries, postgresSummaryEmailLog, postgresSummarySubscribers } from './summaries';
import { postgresIntensityCache } from './intensity-cache';
import { openPostgresWriter } from './writer';
import { PostgresInstanceIndex } from './instance-index';
import { PostgresJobLeases } from './job-leases';
import { openPool, redactUrl } from './connect';
import { migrate } from './migrations';
import { CoalescedReads, iso } from './reads';

export interface PostgresStoreOptions {
  /** The primary: every write, and every read when there is no `readUrl`. */
  url: string;
  /** A hot standby (or any replica) that serves the API's reads. */
  readUrl?: string;
  /** Connections a pool at most. */
  poolSize?: number;
  statementTimeoutMs?: number;
  log?: Logger;
  /** Run pending migrations on open (the default); false to refuse a database that needs them. */
  migrate?: boolean;
  /** How long a query waits for a connection (to open, or to come free in a full pool). */
  connectionTimeoutMs?: number;
  /** How long a scheduled job's claim outlives its holder's last renewal. */
  jobLeaseMs?: number;
  /** How long a batch is tried again while the database is away (restarting, failing over). */
  batchRetryMs?: number;
}

interface StoreSettings {
  log: Logger;
  jobLeaseMs: number;
  batchRetryMs: number;
}

/** How long the store's version is trusted before it is read again: answers lag a commit by no more. */
const VERSION_TTL_MS = 1000;

/** The Store over PostgreSQL: hours, roll-ups and ledger in tables (see migrations.ts). */
export class PostgresStore implements Store, KeepsCapabilities {
  readonly instances: PostgresInstanceIndex;
  private readonly reads: CoalescedReads;
  readonly jobClaims: JobClaims;
  readonly intensityCache: IntensityCache;
  private readonly writers = new Set<StoreWriter>();
  private closed = false;
  private knownVersion: { at: number; value: Promise<string | undefined> } | undefined;

  private readonly log: Logger;

  constructor(
    /** The primary. */
    readonly pool: pg.Pool,
    /** Where reads go: the standby, or the primary itself. */
    readonly readPool: pg.Pool,
    private readonly settings: StoreSettings = {
      log: silentLogger,
      jobLeaseMs: 60_000,
      batchRetryMs: 60_000,
    },
  ) {
    this.log = settings.log;
    this.reads = new CoalescedReads(readPool);
    this.instances = new PostgresInstanceIndex(pool, readPool);
    this.intensityCache = postgresIntensityCache(pool);
    const holder = `${hostname()}/${process.pid}/${randomBytes(3).toString('hex')}`;
    this.jobClaims = new PostgresJobLeases(pool, holder, settings.jobLeaseMs, settings.log);
  }

  capabilities(): StoreCapabilities {
    return {
      deliveries: postgresDeliveryLog(this.pool),
      hostHistory: postgresHostHistory(this.pool, this.readPool),
      projectUsers: postgresProjectUsers(this.pool),
    };
  }

  summaryStores(): SummaryStores {
    return {
      summaries: postgresDailySummaries(this.pool),
      emails: postgresSummaryEmailLog(this.pool),
      subscribers: postgresSummarySubscribers(this.pool),
    };
  }

  /**
   * The count of committed batches, as the database that serves the reads has it (a standby's
   * own, so an answer is never cached under a version newer than the rows it was read from).
   * Read at most once a second: a replica's cached answers lag a commit by about that. A version
   * row rather than LISTEN/NOTIFY: a hot standby delivers no notifications, and a row read needs
   * no connection held open per replica.
   */
  version(): Promise<string | undefined> {
    const now = Date.now();
    if (this.knownVersion === undefined || now - this.knownVersion.at >= VERSION_TTL_MS) {
      const value = this.readPool
        .query<{ version: string }>('SELECT version::text AS version FROM store_version')
        .then(
          ({ rows }) => rows[0]?.version,
          () => undefined,
        );
      this.knownVersion = { at: now, value };
    }
    return this.knownVersion.value;
  }

  /** Each batch is one transaction that leaves its roll-ups level: nothing is ever deferred. */
  async openWriter(options: WriterOptions): Promise<StoreWriter> {
    const writer = await openPostgresWriter(this.pool.options, options, {
      retryMs: this.settings.batchRetryMs,
      log: this.log,
    });
    this.writers.add(writer);
    return {
      applyBatch: async (batch, applyOptions) => {
        const result = await writer.applyBatch(batch, applyOptions);
        // This handle's readers see the commit's version at once; others within VERSION_TTL_MS.
        this.knownVersion = undefined;
        return result;
      },
      release: async () => {
        this.writers.delete(writer);
        await writer.release();
      },
    };
  }

  async readLedger(fromHour: number, toHour: number): Promise<Map<number, LedgerHour>> {
    const { rows } = await this.readPool.query<{ hour: number; record: LedgerHour }>(
      `SELECT extract(epoch FROM hour)::float8 * 1000 AS hour, record FROM ledger_hour
       WHERE hour >= $1 AND hour < $2 ORDER BY hour`,
      [iso(fromHour), iso(toHour)],
    );
    return new Map(rows.map(({ hour, record }) => [hour, record]));
  }

  async readLedgerStatuses(fromHour: number, toHour: number): Promise<Map<number, LedgerHour['status']>> {
    const { rows } = await this.readPool.query<{ hour: number; status: LedgerHour['status'] }>(
      `SELECT extract(epoch FROM hour)::float8 * 1000 AS hour, status FROM ledger_hour
       WHERE hour >= $1 AND hour < $2 ORDER BY hour`,
      [iso(fromHour), iso(toHour)],
    );
    return new Map(rows.map(({ hour, status }) => [hour, status]));
  }

  readDays(
    level: Level,
    date: string,
    keys: readonly string[],
    parts?: ReadParts,
  ): Promise<Array<DayEntry | null>> {
    return this.reads.read<DayEntry>(parts?.byMachine === false ? 'dayAlls' : 'days', level, date, keys);
  }

  readMonths(level: Level, month: string, keys: readonly string[]): Promise<Array<MonthRollup | null>> {
    return this.reads.read<MonthRollup>('months', level, month, keys);
  }

  readYears(level: Level, year: string, keys: readonly string[]): Promise<Array<YearRollup | null>> {
    return this.reads.read<YearRollup>('years', level, year, keys);
  }

  async readInstanceProjects(): Promise<Map<string, ReadonlySet<string>>> {
    const { rows } = await this.readPool.query<{ instance: string; project: string }>(
      'SELECT instance, project FROM instance_project',
    );
    const projects = new Map<string, Set<string>>();
    for (const { instance, project } of rows) {
      projects.set(instance, (projects.get(instance) ?? new Set()).add(project));
    }
    return projects;
  }

  async listKeys(level: Level): Promise<string[]> {
    const { rows } = await this.readPool.query<{ key: string }>(
      `SELECT key FROM usage_key k
       WHERE level = $1 AND EXISTS (SELECT 1 FROM usage_day d WHERE d.key_id = k.id)`,
      [level],
    );
    // Sorted by UTF-16 code units, as the JSON store sorts, whatever the database's collation.
    return rows.map((row) => row.key).sort();
  }

  async checkReadable(): Promise<void> {
    await this.readPool.query('SELECT 1 FROM store_version');
  }

  /** Safe to call twice. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const writer of [...this.writers]) await writer.release();
    this.writers.clear();
    await endPools(this.pool, this.readPool);
    this.log.info('store closed');
  }
}

/** Connects, migrates the primary (unless told not to) and returns the store. */
export async function openPostgresStore(options: PostgresStoreOptions): Promise<PostgresStore> {
  const log = options.log ?? silentLogger;
  const pool = {
    max: options.poolSize ?? 10,
    statementTimeoutMs: options.statementTimeoutMs ?? 30_000,
    connectionTimeoutMs: options.connectionTimeoutMs,
  };
  const primary = openPool(options.url, pool, log);
  const reads = options.readUrl ? openPool(options.readUrl, pool, log) : primary;
  try {
    if (options.migrate !== false) await migrate(primary, log);
    log.info('store opened', {
      url: redactUrl(options.url),
      ...(options.readUrl && { readUrl: redactUrl(options.readUrl) }),
    });
    return new PostgresStore(primary, reads, {
      log,
      jobLeaseMs: options.jobLeaseMs ?? 60_000,
      batchRetryMs: options.batchRetryMs ?? 60_000,
    });
  } catch (err) {
    await endPools(primary, reads);
    throw err;
  }
}

async function endPools(primary: pg.Pool, reads: pg.Pool): Promise<void> {
  await Promise.all([primary.end(), reads === primary ? undefined : reads.end()]);
}
