import { LEVELS } from '../domain/levels';
import { GRANULARITIES } from '../domain/time';
import { EXPORT_FORMATS } from '../export-formats';

/** What every command reads from the environment (contract section 6). */
const CONFIG_ENV = `  CARBONLEDGER_CONFIG   the config file when --config is not given
  PROMETHEUS_URL        overrides prometheus.url
  DATA_DIR              overrides store.dataDir
  DATABASE_URL          overrides store.url (a store section without a kind is then "postgres")`;

const CONFIG_FLAG = `  --config FILE         the JSON config (docs/CONFIGURATION.md); without it, CARBONLEDGER_CONFIG,
                        else every default`;

export const USAGE = `usage:
  carbonledger serve [--config FILE] [--host H] [--port N] [--no-schedule] [--demo]
  carbonledger ingest --from ISO --to ISO [--config FILE] [--lock-wait SECONDS] [--require-data] [--replace]
  carbonledger export --level L --key K --from ISO --to ISO --granularity G [--format csv|json] [--config FILE]
  carbonledger token [--name N] [--projects P,…] [--users U,…] [--admin]
  carbonledger sinks run [--from DAY --to DAY] [--config FILE]
  carbonledger sinks status [--config FILE]
  carbonledger migrate [--config FILE]
  carbonledger copy-store --from STORE --to STORE [--lock-wait SECONDS]
  carbonledger summarize --date YYYY-MM-DD [--send] [--config FILE]
  carbonledger prune --before YYYY-MM [--config FILE]

carbonledger COMMAND --help says more of each command.`;

/** Each command's own --help: its flags, the values they take, its exit codes and environment. */
export const COMMAND_HELP: Readonly<Record<string, string>> = {
  serve: `usage: carbonledger serve [--config FILE] [--host H] [--port N] [--no-schedule] [--demo]

Serves the GraphQL API (POST/GET /graphql, the playground in a browser, /healthz, /readyz,
/metrics) and, unless --no-schedule, runs the schedule: the hourly ingest (schedule.ingest), the
daily reconcile (schedule.reconcile) and the active-workspace poll (schedule.active).

flags:
${CONFIG_FLAG}
  --host H              address to listen on (server.host, default 127.0.0.1); beyond loopback
                        only with an "auth" section
  --port N              port to listen on (server.port, default 4000; 0 picks a free one)
  --no-schedule         serve only: no ingestion, no poll (activeWorkspaces polls when read)
  --demo                fill a store holding only the demo (or nothing) with a year of generated usage first

Stops on SIGTERM or SIGINT: the schedule, a running ingest (waited for up to 30 s), the server.
Run it as \`node dist/cli.js serve\`, not through npx, whose wrapper does not pass SIGTERM on.

exit codes:
  0  stopped by SIGTERM or SIGINT
  1  an unexpected error, or the port is in use or not allowed
  2  bad arguments or config (the message names the flag or config path), a host that is no
     address here, or a dataDir that cannot be written

environment:
${CONFIG_ENV}
  HOST, PORT            override server.host, server.port (the flags win over both)`,

  ingest: `usage: carbonledger ingest --from ISO --to ISO [--config FILE] [--lock-wait SECONDS] [--require-data] [--replace]

Ingests the whole UTC hours in [from, to) from Prometheus: idempotent, the same hours again give
the same store. An hour Prometheus could not answer is stored as failed (never as zero) and
retried by serve's schedule. An ok hour keeps its stored figures when the source now answers it
with fewer series (a Prometheus that lost its data) or, from OpenNebula, with the same VMs measured
from fewer samples (pruned ones): logged, and counted as kept, not ok, in the summary line (keptHours in the log). A progress bar on stderr when it is a terminal; a summary line last.

flags:
  --from ISO            first instant, e.g. 2025-09-21T00:00Z (rounded up to a whole hour)
  --to ISO              end instant, exclusive (rounded down); not after the current hour began
${CONFIG_FLAG}
  --lock-wait SECONDS   how long to wait for the dataDir's ingest lock (default 600)
  --require-data        exit 4 when in some ok hour no instance at all had samples
  --replace             replace ok hours with what the source answers now, even with fewer series
                        or samples

exit codes:
  0  every hour ingested ok (hours with no samples included: they are ok with no usage)
  1  an unexpected error, or the ingest lock stayed held past --lock-wait
  2  bad arguments or config, or a dataDir that cannot be written
  3  some hours failed: stored as failed (one stored ok before keeps its figures), retried later
  4  with --require-data only: every hour ok, but in some no instance had samples

environment:
${CONFIG_ENV}`,

  export: `usage: carbonledger export --level L --key K --from ISO --to ISO --granularity G [--format csv|json] [--config FILE]

Writes one series to stdout, computed through the GraphQL schema from the store (no server needed):
CSV (a header row, one row a bucket, empty figures where no hour is ok) or JSON.

flags:
  --level L             ${LEVELS.join(', ')}
  --key K               the key at that level (usageKeys lists them)
  --from ISO            start of the range [from, to), e.g. 2026-10-01 or 2026-10-01T00:00Z
  --to ISO              end of the range, exclusive
  --granularity G       ${GRANULARITIES.join(', ')} (longest range: HOUR 366 days, DAY 5 years,
                        MONTH and YEAR 50 years)
  --format F            ${EXPORT_FORMATS.join(', ')} (default csv)
${CONFIG_FLAG}

exit codes:
  0  written
  1  an unexpected error
  2  bad arguments or config, or a dataDir that does not exist

environment:
${CONFIG_ENV}`,

  token: `usage: carbonledger token [--name N] [--projects P,…] [--users U,…] [--admin]

Prints a new random bearer token once, and the entry to add to "auth.tokens" in the config, which
holds only its SHA-256. Give --admin, or --projects and/or --users to scope it.

flags:
  --name N              the entry's name (default token-YYYY-MM-DD)
  --projects P,…        sees these projects' PROJECT and INSTANCE series and active workspaces
  --users U,…           sees these users' USER series and active workspaces
  --admin               sees everything

exit codes:
  0  printed
  2  bad arguments (no scope, or admin and a scope both)

environment: none.`,

  sinks: `usage: carbonledger sinks run [--from DAY --to DAY] [--config FILE]
       carbonledger sinks status [--config FILE]

run: delivers every complete day (all 24 hours ok) of [--from, --to] (both days included; by
default the last sinks.perseus.lookbackDays and every earlier day not yet accepted) to PERSEUS:
each entry is sent with the same match key, so PERSEUS overwrites it, unless its latest post was
accepted with the same figures.
status: lists each entry sent: day, project, user/partition, answer, HTTP status, when, attempts.

flags:
  --from DAY, --to DAY  days such as 2025-09-21, given together; --to must be over
${CONFIG_FLAG}

exit codes:
  0  every complete day was accepted (status: listed)
  1  an unexpected error
  2  bad arguments or config, or no sinks.perseus configured
  3  some entries were refused or PERSEUS could not be reached (retried by the next run)

environment:
${CONFIG_ENV}`,
  migrate: `usage: carbonledger migrate [--config FILE]

Brings the schema of a PostgreSQL store (store.kind "postgres") to this build's version, every
pending step in one transaction (if one fails, none is applied: the schema stays as it was), and
says which it applied. serve and ingest do the same as they start; this lets an operator upgrade
the schema first, on its own.

flags:
${CONFIG_FLAG}

exit codes:
  0  the schema is at this build's version
  1  the database could not be reached, or holds a newer schema than this build knows
  2  bad arguments or config (a store that is not "postgres")

environment:
${CONFIG_ENV}`,
  'copy-store': `usage: carbonledger copy-store --from STORE --to STORE [--lock-wait SECONDS]

Copies a whole store into another, of either kind (JSON to PostgreSQL, PostgreSQL to JSON, or
the same kind): every hour's figures at every level, day totals and roll-ups (the target's own,
equal to its hours), the ledger, the access and instance indexes, the carbon intensity cache,
instances' host history, usage by project and user, the sinks' delivery log, the daily summaries
and users' own summary email choices. Usage one day at a time, each written whole or not at all,
holding both stores' writers (stop serve's schedule on them, or let --lock-wait wait for it).
Then compares the two: the ledger's hours and statuses, every level's keys, every key's yearly
totals and every day's summaries; prints what it copied and the totals.

The target must be empty (a new or empty directory, an empty database), or an earlier copy of the
same source: a copy that was stopped (even killed), or whose source has gained hours since (newer,
older, or filling a gap), resumes at the earliest day the target lacks an hour of, not from the
start, and writes every day from there. The source is checked before anything is created: a
source database that does not exist or holds no store is refused, and is never migrated unless
it holds an older schema. Before writing anything it checks that what the target holds is the
source's (its keys, every hour's status, every day's figures at every level, its summaries); a
store of other data, even over the same hours, is refused. Failed hours keep their error; the
count of attempts starts again at one. Not copied: the log of summary emails sent (so a day's
email may be sent again from the target).

flags:
  --from STORE          a JSON store's data directory, a postgres:// URL, or a config file whose
                        "store" section names it (DATABASE_URL and DATA_DIR are not read)
  --to STORE            the same kinds; a directory that does not exist is created
  --lock-wait SECONDS   how long to wait for either store's writer (default 600)

exit codes:
  0  copied, and the copy answers as the source does
  1  an unexpected error: a store could not be reached, or a writer stayed held past --lock-wait;
     or a store's schema is newer than this carbonledger knows (nothing written)
  2  bad arguments, nothing written: a source that does not exist (a directory or a database)
     or a source database that holds no store, both naming the same store (however named: a
     symbolic link, another URL of the same database), a non-empty directory or database that
     holds no store, or a target that holds other data than an earlier copy of this source
  3  copied, but the comparison found a difference (named)

environment: none.`,

  summarize: `usage: carbonledger summarize --date YYYY-MM-DD [--send] [--config FILE]

Summarises one UTC day for every user with usage (or failed hours) that day: VM minutes, RAM and
disk GB-minutes, minutes per machine type, energy and carbon, and whether every hour of the day was
ok. Idempotent: the same day again gives the same summaries, in place of the earlier ones. serve
does the same for yesterday each day (schedule.summaries), and again for days that were incomplete.

flags:
  --date YYYY-MM-DD     the day; it must be over
  --send                also email that day's summary to each listed user not sent it yet
                        (summaries.email; once per user and day, whoever else sends)
${CONFIG_FLAG}

exit codes:
  0  summarised (with --send: every listed user with usage that day has its summary)
  1  an unexpected error
  2  bad arguments or config (the message names the flag or config path), or --send without
     summaries.email
  3  with --send only: some summaries could not be sent (retried by serve's next email run)

environment:
${CONFIG_ENV}`,

  prune: `usage: carbonledger prune --before YYYY-MM [--config FILE]

Forgets every hour of a PostgreSQL store before the month given, in one transaction: the hours'
monthly partitions are dropped, with their day totals, month roll-ups, ledger records, carbon
intensities, daily summaries and usage by project and user; each year roll-up left is rebuilt from its remaining months, so every roll-up still
equals its hours, and the forgotten hours read as never ingested (MISSING), not as zeros. Holds
the store's writer meanwhile (waiting for a running ingest); every replica's cached answers go.
Keep a backup first: what is forgotten comes back only from Prometheus, while it still has it.

flags:
  --before YYYY-MM      the first month kept, e.g. 2024-01
${CONFIG_FLAG}

exit codes:
  0  pruned (or nothing was older)
  1  an unexpected error, or the database could not be reached
  2  bad arguments or config (a store that is not "postgres")

environment:
${CONFIG_ENV}`,
};
