import type pg from 'pg';
import type { Logger } from '../../log';

/** What a read runs on: a pool, or the API's reads routed between a standby and the primary. */
export interface ReadDb {
  query<R extends pg.QueryResultRow>(config: pg.QueryConfig): Promise<pg.QueryResult<R>>;
}

/** How long the store's version is trusted before it is read again: answers lag a commit by no more. */
export const VERSION_TTL_MS = 1000;

/** How long a look at the standby may take before it counts as failed (the reads then go to the primary). */
const PROBE_TIMEOUT_MS = 1000;

/** query_canceled: a statement timeout, which the primary would take as long to reach. */
const STATEMENT_TIMEOUT = '57014';

export interface ReadRouterOptions {
  primary: pg.Pool;
  standby: pg.Pool;
  /** The standby's URL as it may be logged (no password). */
  standbyUrl: string;
  log: Logger;
  versionTtlMs?: number;
  probeTimeoutMs?: number;
  /** Which database a pool reaches (tests stand a plain database in for a standby). */
  inspect?: (db: pg.Pool) => Promise<DatabaseIdentity>;
}

/** What tells a standby of this primary from any other database. */
export interface DatabaseIdentity {
  /** pg_is_in_recovery(): a hot standby is, a primary (or a promoted standby) is not. */
  recovery: boolean;
  /** The cluster's system identifier (pg_control_system()), which its physical standbys share; null when the role may not read it. */
  system: string | null;
  database: string;
}

/**
 * Routes the API's reads to a hot standby (`store.readUrl`) only while it is current, else to the
 * primary (contract section 9: after an ingestion commits, no replica serves an older answer for
 * longer than 5 seconds). At most once a `versionTtlMs` it reads the store's version on the
 * primary, then on the standby: the standby serves the reads until the next look only when it has
 * replayed that version. A standby that lags (replay paused, a slow link), fails or is down sends
 * the reads to the primary, with a warning; once it answers and has caught up, they go back.
 *
 * The standby serves only while it is a standby of this primary: in recovery, of the same
 * cluster (system identifier, when the roles may read it) and database, and never ahead of the
 * primary for longer than a commit landing between the two reads. Else (`readUrl` names another
 * database, a promoted standby, one left behind on an older history after the primary was
 * restored) the reads go to the primary, with one warning saying why.
 *
 * The version given to answer caches is always the primary's, read before the standby's: a
 * standby that serves has replayed at least it, and the primary holds it, so an answer is never
 * cached under a version newer than the rows it was read from.
 */
export class ReadRouter implements ReadDb {
  private route: 'primary' | 'standby' = 'primary';
  private standbyUp = true;
  /** Looks in a row that found the standby behind; warned of once it stays behind. */
  private behind = 0;
  private warnedBehind = false;
  /** Why the standby is not one of this primary, as last warned of. */
  private refused: string | undefined;
  private primaryIdentity: DatabaseIdentity | undefined;
  private known:
    { at: number; value: Promise<string | undefined>; settled: boolean; stale: boolean } | undefined;
  /** The look at a standby that failed: one at a time, never a pile of hanging connections. */
  private probing: Promise<unknown> | undefined;
  private readonly ttlMs: number;
  private readonly probeTimeoutMs: number;

  constructor(private readonly options: ReadRouterOptions) {
    this.ttlMs = options.versionTtlMs ?? VERSION_TTL_MS;
    this.probeTimeoutMs = options.probeTimeoutMs ?? PROBE_TIMEOUT_MS;
  }

  /** Where the reads go now. */
  get serving(): 'primary' | 'standby' {
    return this.route;
  }

  /**
   * The primary's committed version (undefined when the primary cannot be read), and where the
   * reads go until the next look. Looks never overlap: a slow look's answer cannot undo a newer.
   */
  version(): Promise<string | undefined> {
    const known = this.known;
    if (known === undefined || (known.settled && (known.stale || Date.now() - known.at >= this.ttlMs))) {
      const entry = {
        at: Date.now(),
        value: Promise.resolve<string | undefined>(undefined),
        settled: false,
        stale: false,
      };
      entry.value = this.look().finally(() => {
        entry.settled = true;
        entry.at = Date.now();
      });
      this.known = entry;
      return entry.value;
    }
    return known.value;
  }

  /** Looks again at the next `version()` (this process committed). */
  forget(): void {
    if (this.known?.settled) this.known = undefined;
    // A look under way may have read the version before the commit: its answer serves the
    // requests already waiting on it, and the next `version()` looks again.
    else if (this.known) this.known.stale = true;
  }

  query<R extends pg.QueryResultRow>(config: pg.QueryConfig): Promise<pg.QueryResult<R>> {
    const { primary, standby } = this.options;
    if (this.route === 'primary') return primary.query<R>(config);
    return standby.query<R>(config).catch((error: unknown) => {
      if ((error as { code?: unknown }).code === STATEMENT_TIMEOUT) throw error;
      this.standbyFailed(error);
      return primary.query<R>(config);
    });
  }

  /** Closes the standby's pool (the primary's is the store's). */
  async end(): Promise<void> {
    await this.options.standby.end();
  }

  private async look(): Promise<string | undefined> {
    let primaryVersion: string | undefined;
    try {
      primaryVersion = await readVersion(this.options.primary);
      // The primary's identity does not change while it runs.
      this.primaryIdentity ??= await (this.options.inspect ?? inspectDatabase)(this.options.primary);
    } catch {
      // The primary cannot tell what is current: the reads stay where they were.
      return undefined;
    }
    if (primaryVersion === undefined) return undefined;
    if (!this.standbyUp) {
      this.route = 'primary';
      this.probeAgain();
      return primaryVersion;
    }
    let standbyVersion: string | undefined;
    let refusal: string | undefined;
    try {
      const read = this.readStandby();
      this.track(read);
      ({ standbyVersion, refusal } = await withTimeout(read, this.probeTimeoutMs));
    } catch (error) {
      this.standbyFailed(error);
      return primaryVersion;
    }
    if (
      refusal === undefined &&
      standbyVersion !== undefined &&
      BigInt(standbyVersion) > BigInt(primaryVersion)
    ) {
      // Ahead: a commit landed between the two reads, or the standby replays another history
      // (the primary was restored from a backup since). Only the first has reached the primary.
      const now = await readVersion(this.options.primary).catch(() => undefined);
      if (now === undefined || BigInt(now) < BigInt(standbyVersion))
        refusal = `its store_version (${standbyVersion}) is ahead of the primary's (${now ?? primaryVersion}): it does not replay this primary`;
    }
    if (refusal !== undefined) {
      this.route = 'primary';
      this.behind = 0;
      this.warnedBehind = false;
      if (refusal !== this.refused)
        this.options.log.warn(
          `store.readUrl: not a standby of the primary (${refusal}); the API reads from the primary`,
          { readUrl: this.options.standbyUrl, primaryVersion, standbyVersion },
        );
      this.refused = refusal;
      return primaryVersion;
    }
    if (this.refused !== undefined) {
      this.refused = undefined;
      this.options.log.info(
        'store.readUrl: now a standby of the primary; the API reads from it once it has caught up',
        {
          readUrl: this.options.standbyUrl,
        },
      );
    }
    const current = standbyVersion !== undefined && BigInt(standbyVersion) >= BigInt(primaryVersion);
    this.route = current ? 'standby' : 'primary';
    this.noteLag(current, primaryVersion, standbyVersion);
    return primaryVersion;
  }

  /** The standby's version, and why it is not a standby of the primary (undefined when it is). */
  private async readStandby(): Promise<{ standbyVersion: string | undefined; refusal: string | undefined }> {
    const inspect = this.options.inspect ?? inspectDatabase;
    const standby = await inspect(this.options.standby);
    const standbyVersion = await readVersion(this.options.standby);
    if (!standby.recovery) return { standbyVersion, refusal: 'pg_is_in_recovery() is false on it' };
    const primary = this.primaryIdentity!;
    if (standby.system !== null && primary.system !== null && standby.system !== primary.system)
      return {
        standbyVersion,
        refusal: `a standby of another cluster: system identifier ${standby.system}, the primary's ${primary.system}`,
      };
    if (standby.database !== primary.database)
      return {
        standbyVersion,
        refusal: `another database: ${standby.database}, the primary's ${primary.database}`,
      };
    return { standbyVersion, refusal: undefined };
  }

  /** A commit lands between the two reads now and then: only a standby behind twice in a row is news. */
  private noteLag(current: boolean, primaryVersion: string, standbyVersion: string | undefined): void {
    const { log, standbyUrl } = this.options;
    if (current) {
      if (this.warnedBehind)
        log.info('store.readUrl: the standby has caught up; the API reads from it again', {
          readUrl: standbyUrl,
        });
      this.behind = 0;
      this.warnedBehind = false;
      return;
    }
    this.behind += 1;
    if (this.behind >= 2 && !this.warnedBehind) {
      this.warnedBehind = true;
      log.warn(
        'store.readUrl: the standby has not replayed the latest commit; the API reads from the primary until it has',
        {
          readUrl: standbyUrl,
          primaryVersion,
          standbyVersion,
        },
      );
    }
  }

  private standbyFailed(error: unknown): void {
    this.route = 'primary';
    if (!this.standbyUp) return;
    this.standbyUp = false;
    this.behind = 0;
    this.warnedBehind = false;
    this.options.log.warn(
      'store.readUrl: the standby cannot be read; the API reads from the primary until it can',
      {
        readUrl: this.options.standbyUrl,
        error: error instanceof Error ? error.message : String(error),
      },
    );
  }

  /** In the background: the reads wait for no standby that is down. */
  private probeAgain(): void {
    if (this.probing !== undefined) return;
    const { standby, log, standbyUrl } = this.options;
    const read = readVersion(standby);
    this.track(read);
    read.then(
      () => {
        this.standbyUp = true;
        log.info('store.readUrl: the standby answers again; the API reads from it once it has caught up', {
          readUrl: standbyUrl,
        });
      },
      () => undefined,
    );
  }

  /** Holds off further looks at the standby until this one has its answer (or its error). */
  private track(read: Promise<unknown>): void {
    const settled = read.then(
      () => undefined,
      () => undefined,
    );
    this.probing = settled;
    void settled.then(() => {
      if (this.probing === settled) this.probing = undefined;
    });
  }
}

/**
 * Pools whose role may not read pg_control_system(): asked once, not at every look, for each
 * refusal is an ERROR in the server's log.
 */
const CONTROL_REFUSED = new WeakSet<pg.Pool>();
const INSUFFICIENT_PRIVILEGE = '42501';

/** Whether `db` is in recovery, its cluster's system identifier (when readable) and its database. */
export async function inspectDatabase(db: pg.Pool): Promise<DatabaseIdentity> {
  const { rows } = await db.query<{ recovery: boolean; database: string }>(
    'SELECT pg_is_in_recovery() AS recovery, current_database() AS database',
  );
  let system: string | null = null;
  if (!CONTROL_REFUSED.has(db)) {
    try {
      const { rows: control } = await db.query<{ system: string }>(
        'SELECT system_identifier::text AS system FROM pg_control_system()',
      );
      system = control[0]?.system ?? null;
    } catch (error) {
      // The role may not read the cluster's control data: the recovery check alone decides.
      if ((error as { code?: unknown }).code === INSUFFICIENT_PRIVILEGE) CONTROL_REFUSED.add(db);
    }
  }
  return { recovery: rows[0].recovery, database: rows[0].database, system };
}

async function readVersion(db: pg.Pool): Promise<string | undefined> {
  const { rows } = await db.query<{ version: string }>('SELECT version::text AS version FROM store_version');
  return rows[0]?.version;
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
