import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type pg from 'pg';
import type { StoreConfig } from '../../config';
import { silentLogger, type Logger } from '../../log';
import type { JobClaims } from '../job-claims';
import type { IntensityCache } from '../../domain/intensity-cache';
import type { KeepsCapabilities, StoreCapabilities, SummaryStores } from '../capabilities';
import type { Store, StoreWriter, WriterOptions } from '../store';
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
import { DatabaseReads } from './database-reads';
import { ReadRouter, VERSION_TTL_MS, type ReadDb } from './read-routing';

export interface PostgresStoreOptions {
  /** The primary: every write, and every read when there is no `readUrl`. */
  url: string;
  /**
   * A hot standby that serves the API's reads (`PostgresStore.answers`) while it has replayed the
   * primary's latest commit; jobs never read it.
   */
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

/** The Store over PostgreSQL: hours, roll-ups and ledger in tables (see migrations.ts). */
export class PostgresStore extends DatabaseReads implements Store, KeepsCapabilities {
  readonly instances: PostgresInstanceIndex;
  readonly jobClaims: JobClaims;
  readonly intensityCache: IntensityCache;
  private readonly writers = new Set<StoreWriter>();
  private closed = false;
  private knownVersion: { at: number; value: Promise<string | undefined> } | undefined;
  private answerView: PostgresAnswerStore | undefined;

  private readonly log: Logger;

  constructor(
    /** The primary: every write, and every read of this handle. */
    readonly pool: pg.Pool,
    /** Where this handle's reads go: the primary itself, unless a test counts them. */
    readDb: ReadDb = pool,
    private readonly settings: StoreSettings = {
      log: silentLogger,
      jobLeaseMs: 60_000,
      batchRetryMs: 60_000,
    },
    /** The router of the API's reads to a hot standby (`readUrl`), if there is one. */
    private readonly router?: ReadRouter,
  ) {
    super(readDb);
    this.log = settings.log;
    this.instances = new PostgresInstanceIndex(pool, readDb);
    this.intensityCache = postgresIntensityCache(pool);
    const holder = `${hostname()}/${process.pid}/${randomBytes(3).toString('hex')}`;
    this.jobClaims = new PostgresJobLeases(pool, holder, settings.jobLeaseMs, settings.log);
  }

  capabilities(): StoreCapabilities {
    return {
      deliveries: postgresDeliveryLog(this.pool),
      hostHistory: postgresHostHistory(this.pool, this.readDb),
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
   * Which database this is, however a URL names it (another host name, address or port for the
   * same server): the cluster's system identifier and the database's name. Null when the role
   * may not read the cluster's control data.
   */
  async identity(): Promise<string | null> {
    try {
      const { rows } = await this.pool.query<{ id: string }>(
        `SELECT system_identifier::text || '/' || current_database() AS id FROM pg_control_system()`,
      );
      return rows[0]?.id ?? null;
    } catch {
      return null;
    }
  }

  /**
   * The store the API answers from: its reads go to the hot standby (`readUrl`) while it has
   * replayed the primary's latest commit, else to the primary (see ReadRouter). Without `readUrl`,
   * this store itself. Everything else (jobs, the writer, the summaries) reads the primary.
   */
  answers(): Store {
    if (this.router === undefined) return this;
    this.answerView ??= new PostgresAnswerStore(this, this.router);
    return this.answerView;
  }

  /**
   * The count of committed batches, as the primary has it. Read at most once a second: a
   * replica's cached answers lag a commit by about that. A version row rather than LISTEN/NOTIFY:
   * a hot standby delivers no notifications, and a row read needs no connection held open per
   * replica.
   */
  version(): Promise<string | undefined> {
    const now = Date.now();
    if (this.knownVersion === undefined || now - this.knownVersion.at >= VERSION_TTL_MS) {
      const value = this.readDb
        .query<{ version: string }>({ text: 'SELECT version::text AS version FROM store_version' })
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
        this.router?.forget();
        return result;
      },
      release: async () => {
        this.writers.delete(writer);
        await writer.release();
      },
    };
  }

  /** Safe to call twice. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const writer of [...this.writers]) await writer.release();
    this.writers.clear();
    await Promise.all([this.pool.end(), this.router?.end()]);
    this.log.info('store closed');
  }
}

/** What a config's `store` section of kind "postgres" says of how to open it. */
export function postgresStoreOptions(
  config: Extract<StoreConfig, { kind: 'postgres' }>,
): Pick<PostgresStoreOptions, 'url' | 'readUrl' | 'poolSize' | 'statementTimeoutMs' | 'jobLeaseMs'> {
  return {
    url: config.url,
    readUrl: config.readUrl,
    poolSize: config.poolSize,
    statementTimeoutMs: config.statementTimeoutMs,
    jobLeaseMs: config.jobLeaseMs,
  };
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
  // Nothing connects to the standby until the API's first answer: a job never does.
  const router = options.readUrl
    ? new ReadRouter({
        primary,
        standby: openPool(options.readUrl, pool, log),
        standbyUrl: redactUrl(options.readUrl),
        log,
      })
    : undefined;
  try {
    // Either connects: a database that is missing or refuses connections fails the open here.
    if (options.migrate !== false) await migrate(primary, log);
    else await primary.query('SELECT 1');
    // Once the primary answered; a standby (readUrl) is connected to when first read.
    log.info('store opened', {
      url: redactUrl(options.url),
      ...(options.readUrl && { readUrl: redactUrl(options.readUrl) }),
    });
    return new PostgresStore(
      primary,
      primary,
      {
        log,
        jobLeaseMs: options.jobLeaseMs ?? 60_000,
        batchRetryMs: options.batchRetryMs ?? 60_000,
      },
      router,
    );
  } catch (err) {
    await Promise.all([primary.end(), router?.end()]);
    throw err;
  }
}

/**
 * The store the API answers from when there is a standby: its reads go where the router sends
 * them, its version is the router's; the writer, the capabilities' writes and closing are the
 * store's own.
 */
class PostgresAnswerStore extends DatabaseReads implements Store, KeepsCapabilities {
  readonly instances: PostgresInstanceIndex;

  constructor(
    private readonly store: PostgresStore,
    private readonly router: ReadRouter,
  ) {
    super(router);
    this.instances = new PostgresInstanceIndex(store.pool, router);
  }

  get intensityCache(): IntensityCache {
    return this.store.intensityCache;
  }

  capabilities(): StoreCapabilities {
    return { ...this.store.capabilities(), hostHistory: postgresHostHistory(this.store.pool, this.router) };
  }

  summaryStores(): SummaryStores {
    return this.store.summaryStores();
  }

  openWriter(options: WriterOptions): Promise<StoreWriter> {
    return this.store.openWriter(options);
  }

  version(): Promise<string | undefined> {
    return this.router.version();
  }

  close(): Promise<void> {
    return this.store.close();
  }
}
