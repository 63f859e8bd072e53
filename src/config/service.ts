/** Config sections of the service itself: store, server, schedule and auth. */
import { z } from 'zod';
import { cron, positiveInt, wholeNumberIn, timeoutMs } from './primitives';

export const postgresUrl = z.url({
  protocol: /^postgres(ql)?$/,
  error: 'expected a postgres:// URL', // never the value: it may hold a password
});

export const JsonStoreSchema = z
  .object({
    kind: z.literal('json'),
    dataDir: z.string().min(1).default('./data'),
  })
  .strict();

/** The largest statement_timeout PostgreSQL takes (INT_MAX milliseconds, some 24.8 days). */
export const MAX_STATEMENT_TIMEOUT_MS = 2_147_483_647;

export const PostgresStoreSchema = z
  .object({
    kind: z.literal('postgres'),
    /** The primary: every write (and every read without `readUrl`). */
    url: postgresUrl,
    /** A hot standby that serves the API's reads while it has replayed the primary's latest commit. */
    readUrl: postgresUrl.optional(),
    /** Connections per pool (one pool for the primary, one for `readUrl`). */
    poolSize: wholeNumberIn(1, 1000).default(10),
    /** PostgreSQL's statement_timeout for every statement the store sends (an int4 of milliseconds there). */
    statementTimeoutMs: wholeNumberIn(
      1,
      MAX_STATEMENT_TIMEOUT_MS,
      'milliseconds',
      "PostgreSQL's limit for statement_timeout",
    ).default(30_000),
    /**
     * How long a replica's claim on a scheduled job's tick outlives its last renewal: a replica
     * that dies mid-run hands the job on after at most this long.
     */
    jobLeaseMs: wholeNumberIn(1000, 3_600_000, 'milliseconds').default(60_000),
    /** Unused by this store, which keeps everything in its database: accepted so a config can switch kinds. */
    dataDir: z.string().min(1).default('./data'),
  })
  .strict();

export const StoreSchema = z.preprocess(
  // The JSON store is the embedded default: a store section that names no kind is one, unless it
  // names a database (`url`, or DATABASE_URL alone).
  (raw) =>
    typeof raw === 'object' && raw !== null && !Array.isArray(raw) && !('kind' in raw)
      ? { kind: 'url' in raw ? 'postgres' : 'json', ...raw }
      : raw,
  z.discriminatedUnion('kind', [JsonStoreSchema, PostgresStoreSchema], {
    error: 'expected kind "json" or "postgres"',
  }),
);
export type StoreConfig = z.infer<typeof StoreSchema>;

/** `[::1]` → `::1`: the brackets of a URL are no part of the address `listen` takes. */
export function listenHost(host: string): string {
  return /^\[.*\]$/.test(host) ? host.slice(1, -1) : host;
}

/**
 * Two of the costliest operations allowed (a year of hours with every field, ~17 MB of JSON and
 * several times that while it is built) in flight at once, anything small beside them: execution
 * is single-threaded, so more at once would hold more memory for no more throughput.
 */
export const DEFAULT_MAX_ANSWER_COST_IN_FLIGHT = 2_200_000;
/** Two minutes to take the largest answer: 17 MB at about 1 Mbit/s. */
export const DEFAULT_SEND_TIMEOUT_MS = 120_000;

export const ServerSchema = z
  .object({
    host: z
      .string()
      .transform(listenHost)
      .refine((host) => host.length > 0, { error: 'expected a host name or address' })
      .default('127.0.0.1'),
    port: z
      .number({ error: 'expected a port number' })
      .int({ error: 'expected a port number' })
      .min(0, { error: 'expected a port number' })
      .max(65535, { error: 'expected a port number' })
      .default(4000),
    maxAnswerCostInFlight: positiveInt.default(DEFAULT_MAX_ANSWER_COST_IN_FLIGHT),
    sendTimeoutMs: timeoutMs.default(DEFAULT_SEND_TIMEOUT_MS),
  })
  .strict();

export const ScheduleSchema = z
  .object({
    ingest: cron.default('5 * * * *'),
    reconcile: cron.default('0 2 * * *'),
    active: cron.default('* * * * *'),
    summaries: cron.default('0 2 * * *'),
    summaryEmails: cron.default('0 3 * * *'),
  })
  .strict();

export const sha256Hex = z.string().regex(/^[0-9a-f]{64}$/, { error: 'expected 64 lower-case hex digits' });
export const AuthSchema = z
  .object({
    anonymous: z.boolean().default(false),
    tokens: z
      .array(
        z
          .object({
            name: z.string().min(1),
            sha256: sha256Hex,
            role: z.literal('admin').optional(),
            projects: z.array(z.string().min(1)).optional(),
            users: z.array(z.string().min(1)).optional(),
          })
          .strict()
          .refine((token) => token.role !== 'admin' || (!token.projects?.length && !token.users?.length), {
            error: 'an admin token sees everything: give role "admin" or projects/users, not both',
          }),
      )
      .default([])
      .check((context) => {
        // One token with two entries would be granted whichever scope the lookup met first; two
        // tokens of one name could not be told apart in errors, logs and the operator's config.
        for (const [field, what] of [
          ['sha256', 'token'],
          ['name', 'name'],
        ] as const) {
          const first = new Map<string, number>();
          context.value.forEach((token, index) => {
            const earlier = first.get(token[field]);
            if (earlier === undefined) first.set(token[field], index);
            else {
              context.issues.push({
                code: 'custom',
                input: token[field],
                path: [index, field],
                message: `the same ${what} as auth.tokens.${earlier}`,
              });
            }
          });
        }
      }),
  })
  .strict();
export type AuthConfig = z.infer<typeof AuthSchema>;
