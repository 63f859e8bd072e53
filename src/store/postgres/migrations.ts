import type pg from 'pg';
import { inTransaction } from './connect';
import type { Logger } from '../../log';
import { LOCK_NAMESPACE, LOCKS } from './locks';

/**
 * The schema, one numbered step at a time. A step is never edited once released: a change is a new
 * step. The steps a database lacks run together in one transaction with their records (`migrate`),
 * so a database is at the version it was or at the newest, never between.
 */
export interface Migration {
  version: number;
  name: string;
  sql: string;
}

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'usage, roll-ups, ledger and instance projects',
    sql: `
      -- One row a (level, key): the figures' tables name a key by its id.
      CREATE TABLE usage_key (
        id integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        level text NOT NULL,
        key text NOT NULL,
        UNIQUE (level, key)
      );
      -- The hours of a key, one row an hour: a year of one key is one range of the primary key.
      -- Partitioned by month (usage_hour_pYYYY_MM, made as ingestion reaches it) so old hours go
      -- with a DROP TABLE. figures is null exactly when failed (see codec.ts for its layout).
      CREATE TABLE usage_hour (
        key_id integer NOT NULL,
        hour timestamptz NOT NULL,
        failed boolean NOT NULL,
        machines text[] NOT NULL,
        figures bytea,
        PRIMARY KEY (key_id, hour),
        CHECK (failed = (figures IS NULL))
      ) PARTITION BY RANGE (hour);
      -- Day totals (every hour that did not fail), month and year roll-ups: the sums of the rows
      -- below them, kept so by the store in the transaction that changes those rows.
      CREATE TABLE usage_day (
        key_id integer NOT NULL REFERENCES usage_key (id),
        day date NOT NULL,
        machines text[] NOT NULL,
        figures bytea NOT NULL,
        PRIMARY KEY (key_id, day)
      );
      CREATE TABLE usage_month (
        key_id integer NOT NULL REFERENCES usage_key (id),
        month date NOT NULL,
        machines text[] NOT NULL,
        figures bytea NOT NULL,
        PRIMARY KEY (key_id, month)
      );
      CREATE TABLE usage_year (
        key_id integer NOT NULL REFERENCES usage_key (id),
        year smallint NOT NULL,
        machines text[] NOT NULL,
        figures bytea NOT NULL,
        PRIMARY KEY (key_id, year)
      );
      CREATE TABLE ledger_hour (
        hour timestamptz PRIMARY KEY,
        status text NOT NULL CHECK (status IN ('ok', 'failed')),
        record jsonb NOT NULL
      );
      -- Counts the commits of ingestion, so a replica knows its cached answers are out of date.
      CREATE TABLE store_version (
        only_row boolean PRIMARY KEY DEFAULT true CHECK (only_row),
        version bigint NOT NULL
      );
      INSERT INTO store_version (version) VALUES (0);
      CREATE TABLE instance_project (
        instance text NOT NULL,
        project text NOT NULL,
        PRIMARY KEY (instance, project)
      );
    `,
  },
  {
    version: 2,
    name: 'job leases',
    sql: `
      -- The last tick of each scheduled job that a replica claimed. holder is null once the run
      -- ended; a run whose holder stopped renewing expires_at may be overtaken by the next tick.
      CREATE TABLE job_lease (
        job text PRIMARY KEY,
        tick timestamptz NOT NULL,
        holder text,
        expires_at timestamptz NOT NULL
      );
    `,
  },
  {
    version: 3,
    name: 'instance index',
    sql: `
      -- One row a life (domain/instances.ts), found by the hours it spans.
      CREATE TABLE instance_life (
        identity text PRIMARY KEY,
        instance text NOT NULL,
        first_hour timestamptz NOT NULL,
        last_hour_end timestamptz NOT NULL,
        life jsonb NOT NULL
      );
      CREATE INDEX instance_life_hours ON instance_life (first_hour, last_hour_end);
      CREATE TABLE instance_index (
        only_row boolean PRIMARY KEY DEFAULT true CHECK (only_row),
        through_hour timestamptz
      );
      INSERT INTO instance_index (through_hour) VALUES (NULL);
    `,
  },
  {
    version: 4,
    name: 'carbon intensity cache',
    sql: `
      -- Measured intensities of settled hours, so each is asked of its source once.
      CREATE TABLE carbon_intensity (
        hour timestamptz PRIMARY KEY,
        g_per_kwh float8 NOT NULL,
        source text NOT NULL
      );
    `,
  },
  {
    version: 5,
    name: 'daily summaries and their emails',
    sql: `
      -- One row a user and UTC day (contract section 11); record is domain/summaries.ts's.
      CREATE TABLE daily_summary (
        user_key text NOT NULL,
        day date NOT NULL,
        record jsonb NOT NULL,
        PRIMARY KEY (user_key, day)
      );
      -- Each day summarised, and whether every hour of it was ok then (else it is summarised again).
      CREATE TABLE summary_day (
        day date PRIMARY KEY,
        complete boolean NOT NULL,
        summarised_at timestamptz NOT NULL DEFAULT now()
      );
      -- The latest claim on sending a user a day's summary: a row is claimed before the send and
      -- marked after it, so no day is sent twice; a failed one (or one whose holder fell silent
      -- past expires_at) is claimed again with the next attempt.
      CREATE TABLE summary_email (
        user_key text NOT NULL,
        day date NOT NULL,
        attempt integer NOT NULL,
        state text NOT NULL CHECK (state IN ('claimed', 'sent', 'failed')),
        holder text NOT NULL,
        expires_at timestamptz NOT NULL,
        sent_at timestamptz,
        address text,
        error text,
        PRIMARY KEY (user_key, day)
      );
      -- Users who listed themselves (setSummaryEmail).
      CREATE TABLE summary_subscriber (
        user_key text PRIMARY KEY,
        address text NOT NULL
      );
    `,
  },
  {
    version: 6,
    name: 'sink deliveries, host history and usage by project and user',
    sql: `
      -- The latest delivery of each entry a sink sent (store/deliveries.ts), by its match key.
      CREATE TABLE sink_delivery (
        sink text NOT NULL,
        key text NOT NULL,
        delivery jsonb NOT NULL,
        PRIMARY KEY (sink, key)
      );
      -- Each instance's host history as its source last reported it (store/host-history.ts).
      CREATE TABLE instance_host_history (
        instance text PRIMARY KEY,
        history jsonb NOT NULL
      );
      -- Usage by project and user, which no level holds (store/project-users.ts): a Breakdown an hour.
      CREATE TABLE project_user_hour (
        hour timestamptz NOT NULL,
        project text NOT NULL,
        user_key text NOT NULL,
        figures jsonb NOT NULL,
        PRIMARY KEY (project, hour, user_key)
      );
      CREATE INDEX project_user_hour_hour ON project_user_hour (hour);
    `,
  },
  {
    version: 7,
    name: "a user's own opt-out of summary emails",
    sql: `
      -- A null address: the user stopped their emails, even if the config lists them.
      ALTER TABLE summary_subscriber ALTER COLUMN address DROP NOT NULL;
    `,
  },
  {
    version: 8,
    name: 'instance lives by instance',
    sql: `
      -- A batch reads every life of the instances it saw, to take their re-mapped hours away.
      CREATE INDEX instance_life_instance ON instance_life (instance);
    `,
  },
  {
    version: 9,
    name: 'undecodable hour rows found and set aside',
    sql: `
      -- Ok hour rows whose figures codec.ts cannot decode (damage.ts): none in a sound store, so
      -- each batch finds them in this empty index rather than by reading every row.
      CREATE INDEX usage_hour_undecodable ON usage_hour (hour)
        WHERE NOT failed AND (octet_length(figures) = 0
          OR octet_length(figures) % (8 * (cardinality(machines) + 1)) <> 0);
      -- The rows a batch took out of usage_hour with a damaged hour (undecodable: the damaged
      -- ones; the others are good figures of keys failed with it), kept for the operator.
      CREATE TABLE usage_hour_set_aside (
        key_id integer NOT NULL,
        hour timestamptz NOT NULL,
        machines text[] NOT NULL,
        figures bytea,
        undecodable boolean NOT NULL,
        reason text NOT NULL,
        set_aside_at timestamptz NOT NULL DEFAULT now()
      );
    `,
  },
  {
    version: 10,
    name: 'usage by project and user in the figures layout',
    sql: `
      -- Usage by project and user as usage_hour holds figures (codec.ts): machine types beside a
      -- bytea, a quarter of the bytes of jsonb, written by COPY without parsing JSON. Rows written
      -- before keep their jsonb (figures_json) until their hour is ingested again: nothing is
      -- rewritten here, so the step is instant on a store of any size.
      ALTER TABLE project_user_hour RENAME COLUMN figures TO figures_json;
      ALTER TABLE project_user_hour ALTER COLUMN figures_json DROP NOT NULL,
        ADD COLUMN machines text[], ADD COLUMN figures bytea,
        ADD CHECK ((figures IS NULL) = (figures_json IS NOT NULL) AND (figures IS NULL) = (machines IS NULL));
    `,
  },
  {
    version: 11,
    name: 'undecodable roll-up rows found and set aside',
    sql: `
      -- Day totals, month and year roll-ups whose figures codec.ts cannot decode (rollup-damage.ts):
      -- none in a sound store, so each batch finds them in these empty indexes, as migration 9's.
      CREATE INDEX usage_day_undecodable ON usage_day (key_id, day)
        WHERE octet_length(figures) = 0 OR octet_length(figures) % (8 * (cardinality(machines) + 1)) <> 0;
      CREATE INDEX usage_month_undecodable ON usage_month (key_id, month)
        WHERE octet_length(figures) = 0 OR octet_length(figures) % (8 * (cardinality(machines) + 1)) <> 0;
      CREATE INDEX usage_year_undecodable ON usage_year (key_id, year)
        WHERE octet_length(figures) = 0 OR octet_length(figures) % (8 * (cardinality(machines) + 1)) <> 0;
      -- The roll-up rows a batch took out as it found them, kept for the operator: each was rebuilt
      -- from the rows below it (a day from its hours, a month from its days, a year from its months).
      CREATE TABLE usage_rollup_set_aside (
        kind text NOT NULL CHECK (kind IN ('day', 'month', 'year')),
        key_id integer NOT NULL,
        period text NOT NULL,
        machines text[] NOT NULL,
        figures bytea NOT NULL,
        reason text NOT NULL,
        set_aside_at timestamptz NOT NULL DEFAULT now()
      );
    `,
  },
];

/** The database holds a schema newer than this build knows: run the newer carbonledger. */
export class SchemaTooNewError extends Error {
  override readonly name = 'SchemaTooNewError';
}

/**
 * Brings the database to the newest version, under an advisory lock so that replicas starting
 * together migrate once. Every pending step runs in one transaction: if one fails, none of them is
 * applied and the schema stays as it was. Each applied step is logged once that transaction has
 * committed. Returns the versions applied (none when it was up to date).
 *
 * It first only reads which versions are applied: a current database is written nothing (no lock,
 * no DDL), so a hot standby, a read-only role or a session with default_transaction_read_only
 * opens a current store. Only when steps are pending does it take the lock and read again.
 */
export async function migrate(pool: pg.Pool, log: Logger, migrations = MIGRATIONS): Promise<number[]> {
  const seen = await appliedVersions(pool);
  if (seen !== undefined && pendingOf(seen, migrations).length === 0) return [];
  const applied = await inTransaction(pool, async (client) => {
    await client.query('SELECT pg_advisory_xact_lock($1, $2)', [LOCK_NAMESPACE, LOCKS.migration]);
    await client.query(`
      CREATE TABLE IF NOT EXISTS schema_migration (
        version integer PRIMARY KEY,
        name text NOT NULL,
        applied_at timestamptz NOT NULL DEFAULT now()
      )`);
    const pending = pendingOf((await appliedVersions(client)) ?? new Set(), migrations);
    for (const migration of pending) {
      await client.query(migration.sql);
      await client.query('INSERT INTO schema_migration (version, name) VALUES ($1, $2)', [
        migration.version,
        migration.name,
      ]);
    }
    return pending;
  });
  for (const migration of applied) {
    log.info('database migrated', { version: migration.version, name: migration.name });
  }
  return applied.map((migration) => migration.version);
}

/** The versions the database records as applied; undefined when it has no schema_migration yet. */
async function appliedVersions(db: pg.Pool | pg.ClientBase): Promise<Set<number> | undefined> {
  const { rows: table } = await db.query<{ exists: boolean }>(
    "SELECT to_regclass('schema_migration') IS NOT NULL AS exists",
  );
  if (!table[0]?.exists) return undefined;
  const { rows } = await db.query<{ version: number }>('SELECT version FROM schema_migration');
  return new Set(rows.map((row) => row.version));
}

/** The steps not applied; throws when the database holds a version newer than any of them. */
function pendingOf(applied: Set<number>, migrations: readonly Migration[]): Migration[] {
  const newest = migrations.at(-1)?.version ?? 0;
  const unknown = [...applied].filter((version) => version > newest);
  if (unknown.length > 0) {
    throw new SchemaTooNewError(
      `the database's schema is at version ${Math.max(...unknown)}, newer than this carbonledger ` +
        `knows (${newest}): run the newer carbonledger, or restore a backup taken before its upgrade`,
    );
  }
  return migrations.filter((migration) => !applied.has(migration.version));
}
