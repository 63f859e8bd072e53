import { parseExpression } from 'cron-parser';
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { emailAddressProblem } from './domain/email-address';
import { MAX_G_PER_KWH } from './domain/plausible';

/** The one source of configuration types: defaults live here, and every error names its path. */

const positiveNumber = z
  .number({ error: 'expected a positive number' })
  .positive({ error: 'expected a positive number' });
const nonNegativeNumber = z
  .number({ error: 'expected a number ≥ 0' })
  .nonnegative({ error: 'expected a number ≥ 0' });
/**
 * Upper bounds on coefficients, so that no figure they multiply can overflow or swamp a sum: far
 * above any real value, far below where a double loses meaning.
 */
const MAX_WATTS_PER_CORE = 10_000;
const MAX_PUE = 10;
const wattsPerCore = (min: 'positive' | 'nonnegative') =>
  (min === 'positive' ? positiveNumber : nonNegativeNumber).max(MAX_WATTS_PER_CORE, {
    error: `expected at most ${MAX_WATTS_PER_CORE} W per core`,
  });
const gramsPerKwh = nonNegativeNumber.max(MAX_G_PER_KWH, {
  error: `expected at most ${MAX_G_PER_KWH} gCO2eq/kWh (the dirtiest grids emit about 1,000)`,
});
const positiveInt = z
  .number({ error: 'expected a positive whole number' })
  .int({ error: 'expected a positive whole number' })
  .positive({ error: 'expected a positive whole number' });
const labelName = z
  .string({ error: 'expected a Prometheus label name' })
  .regex(/^[a-zA-Z_][a-zA-Z0-9_]*$/, { error: 'expected a Prometheus label name' });
/**
 * A regular expression for a PromQL `!~` matcher. JavaScript's syntax is close enough to RE2's to
 * catch the usual mistakes (an unclosed group) here rather than as failed hours.
 */
const promqlRegex = z.string({ error: 'expected a regular expression' }).check((ctx) => {
  try {
    new RegExp(ctx.value);
  } catch (err) {
    ctx.issues.push({
      code: 'custom',
      input: ctx.value,
      message: `expected a regular expression (${err instanceof Error ? err.message : String(err)})`,
    });
  }
});
const httpUrl = z.url({ protocol: /^https?$/, error: 'expected an http(s) URL' });
/** Why node-schedule would refuse `expression` (it parses with cron-parser too), or null. */
function cronProblem(expression: string): string | null {
  try {
    parseExpression(expression, { utc: true });
    return null;
  } catch (err) {
    return err instanceof Error ? err.message : String(err);
  }
}

/**
 * Five fields, or six with seconds first, each in range: checked with the config, so `serve`
 * never gets as far as starting with one it cannot schedule.
 */
const cron = z
  .string({ error: 'expected a cron expression' })
  .refine((s) => [5, 6].includes(s.trim().split(/\s+/).length), {
    error: 'expected a cron expression of 5 or 6 fields',
    abort: true,
  })
  .check((ctx) => {
    const problem = cronProblem(ctx.value);
    if (problem !== null) {
      ctx.issues.push({
        code: 'custom',
        input: ctx.value,
        message: `expected a valid cron expression (${problem})`,
      });
    }
  });

export const MachinePowerSchema = z
  .object({
    busyWattsPerCore: wattsPerCore('positive').default(12),
    idleWattsPerCore: wattsPerCore('nonnegative').default(1),
  })
  .strict();
export type MachinePower = z.infer<typeof MachinePowerSchema>;

/** A machine type's embodied carbon (contract section 8). */
export const EmbodiedSchema = z
  .object({
    kgCo2eq: nonNegativeNumber,
    lifespanYears: positiveNumber.default(4),
    /** The part of the machine one instance of this type holds. */
    share: z
      .number({ error: 'expected a number in (0, 1]' })
      .positive({ error: 'expected a number in (0, 1]' })
      .max(1, { error: 'expected a number in (0, 1]' })
      .default(1),
  })
  .strict();

/*
 * The resource coefficients' defaults are Cloud Carbon Footprint's
 * (https://www.cloudcarbonfootprint.org/docs/methodology): memory 0.000392 kWh per GB-hour,
 * storage 1.2 Wh per TB-hour (HDD), networking 0.001 kWh per GB.
 */
export const EnergySchema = z
  .object({
    default: MachinePowerSchema.prefault({}),
    /** Keyed by `machine_name` as labelled; a field left out comes from `default`. */
    machines: z
      .record(
        z.string(),
        z
          .object({
            busyWattsPerCore: wattsPerCore('positive').optional(),
            idleWattsPerCore: wattsPerCore('nonnegative').optional(),
            embodied: EmbodiedSchema.optional(),
          })
          .strict(),
      )
      .default({}),
    pue: z
      .number({ error: 'expected a number from 1 to 10' })
      .min(1, { error: 'expected a number from 1 to 10' })
      .max(MAX_PUE, { error: 'expected a number from 1 to 10' })
      .default(1),
    memoryKwhPerGbHour: nonNegativeNumber.default(0.000392),
    storageKwhPerTbHour: nonNegativeNumber.default(0.0012),
    networkKwhPerGb: nonNegativeNumber.default(0.001),
  })
  .strict();
export type EnergyConfig = z.infer<typeof EnergySchema>;

export const PrometheusSchema = z
  .object({
    url: httpUrl.default('http://127.0.0.1:9090'),
    labels: z
      .object({
        project: labelName.default('cloud_project_name'),
        machine: labelName.default('machine_name'),
        host: labelName.default('host'),
        user: labelName.optional(),
        experiment: labelName.optional(),
      })
      .strict()
      .prefault({}),
    idleModes: z
      .array(z.string().min(1), { error: 'expected a list of mode names' })
      .min(1)
      .default(['idle']),
    timeoutMs: positiveInt.default(60_000),
    /** Extra PromQL matchers for every node_exporter series asked for, e.g. `job="node"`. */
    selector: z.string().default(''),
    /** Filesystems whose `fstype` matches (RE2, whole value) are not counted as disk in use. */
    excludeFstypes: promqlRegex.default('tmpfs|devtmpfs|overlay|squashfs|ramfs|nsfs|proc|sysfs'),
    /** Network devices whose name matches (RE2, whole value) are not counted as traffic. */
    excludeDevices: promqlRegex.default('lo'),
    /** Hours asked for in one query_range request (Prometheus caps a range at 11,000 points). */
    chunkHours: positiveInt.max(10_000).default(24 * 7),
    /** Tries per request before its hours are stored as failed. */
    attempts: positiveInt.max(10).default(3),
    /** False when every instance comes from another source (e.g. `sources.opennebula`). */
    enabled: z.boolean({ error: 'expected true or false' }).default(true),
  })
  .strict();
export type PrometheusConfig = z.infer<typeof PrometheusSchema>;

const nameMap = (what: string) =>
  z.record(
    z.string(),
    z.string({ error: `expected ${what} name` }).min(1, { error: `expected ${what} name` }),
  );

function mysqlUrlParses(url: string): boolean {
  try {
    const parsed = new URL(url);
    return parsed.hostname !== '' && (parsed.port === '' || Number(parsed.port) >= 1);
  } catch {
    return false;
  }
}

/** Contract section 10: OpenNebula's accounting database as a source of instance-hours. */
export const OpenNebulaSchema = z
  .object({
    url: z
      .string({ error: 'expected "mysql://user:password@host:port/database" or "sqlite:FILE"' })
      .regex(/^(mysql:\/\/.+|sqlite:.+)$/, {
        error: 'expected "mysql://user:password@host:port/database" or "sqlite:FILE"',
      })
      // Never echoed: the value holds a password. A URL that does not parse (a port above
      // 65535) would otherwise fail every ingestion with the driver's message quoting it.
      .refine((url) => !url.startsWith('mysql:') || mysqlUrlParses(url), {
        error: 'not a valid URL: expected "mysql://user:password@host:port/database", port 1-65535',
      }),
    /** Project by OpenNebula group id; an unmapped group is `gid-<id>`. */
    groups: nameMap('a project').default({}),
    /** User by OpenNebula user id; an unmapped user is `uid-<id>`. */
    users: nameMap('a user').default({}),
    /** Machine type by VM name prefix (up to the first "-"); an unmapped prefix is itself. */
    machines: nameMap('a machine type').default({}),
    /** Longest one fetch of a range may take before its hours are stored as failed. */
    timeoutMs: positiveInt.default(60_000),
    /** Most rows read from a table in one query. */
    batchRows: positiveInt.max(1_000_000).default(10_000),
  })
  .strict();
export type OpenNebulaConfig = z.infer<typeof OpenNebulaSchema>;

export const SourcesSchema = z.object({ opennebula: OpenNebulaSchema.optional() }).strict();

/** Contract section 10: each complete day's usage posted to PERSEUS's usage reporting. */
export const PerseusSchema = z
  .object({
    // Never echoed: the value may hold a password.
    url: httpUrl.refine((url) => !/^[a-z]+:\/\/[^/?#]*@/i.test(url), {
      error: 'must not hold credentials (user:password@); PERSEUS takes sinks.perseus.token',
    }),
    token: z.string({ error: 'expected the bearer token' }).min(1, { error: 'expected the bearer token' }),
    /** PERSEUS project_oid by our project key; projects not listed are not reported. */
    projects: nameMap('a PERSEUS project_oid'),
    resource: z.string({ error: 'expected a resource_id' }).min(1, { error: 'expected a resource_id' }),
    unit: z
      .enum(['cpu-core-hours', 'kwh'], { error: 'expected "cpu-core-hours" or "kwh"' })
      .default('cpu-core-hours'),
    /** One entry per user of each project (users as attributed: labels, registry, OpenNebula's map). */
    perUser: z.boolean({ error: 'expected true or false' }).default(false),
    partition: z.literal('machine', { error: 'expected "machine" or null' }).nullable().default(null),
    priority: z.string().min(1, { error: 'expected a priority name or null' }).nullable().default(null),
    contingentFactor: nonNegativeNumber.default(1),
    timeoutMs: positiveInt.default(30_000),
    /** Days back (before today) each run checks for complete days not yet accepted. */
    lookbackDays: positiveInt.max(366).default(7),
  })
  .strict();
export type PerseusConfig = z.infer<typeof PerseusSchema>;

export const SinksSchema = z.object({ perseus: PerseusSchema.optional() }).strict();

export const WorkspacesSchema = z
  .object({
    /** The workspace registry: a JSON array of { hostname, owner, experiment, created_time, deleted_time }. */
    file: z.string().min(1).optional(),
  })
  .strict();
export type WorkspacesConfig = z.infer<typeof WorkspacesSchema>;

export const CarbonSchema = z.discriminatedUnion(
  'source',
  [
    z.object({ source: z.literal('static'), gPerKwh: gramsPerKwh.default(200) }).strict(),
    z
      .object({
        source: z.literal('carbon-intensity-api'),
        url: httpUrl.default('https://api.carbonintensity.org.uk'),
        fallbackGPerKwh: gramsPerKwh.default(200),
        timeoutMs: positiveInt.default(30_000),
      })
      .strict(),
    z
      .object({
        source: z.literal('csv'),
        file: z.string().min(1),
        fallbackGPerKwh: gramsPerKwh.default(200),
      })
      .strict(),
  ],
  { error: 'expected source "static", "carbon-intensity-api" or "csv"' },
);
export type CarbonConfig = z.infer<typeof CarbonSchema>;

const postgresUrl = z.url({
  protocol: /^postgres(ql)?$/,
  error: 'expected a postgres:// URL', // never the value: it may hold a password
});

export const JsonStoreSchema = z
  .object({
    kind: z.literal('json'),
    dataDir: z.string().min(1).default('./data'),
  })
  .strict();

export const PostgresStoreSchema = z
  .object({
    kind: z.literal('postgres'),
    /** The primary: every write (and every read without `readUrl`). */
    url: postgresUrl,
    /** A hot standby that serves the API's reads. */
    readUrl: postgresUrl.optional(),
    /** Connections per pool (one pool for the primary, one for `readUrl`). */
    poolSize: positiveInt.max(1000).default(10),
    /** PostgreSQL's statement_timeout for every statement the store sends. */
    statementTimeoutMs: positiveInt.default(30_000),
    /**
     * How long a replica's claim on a scheduled job's tick outlives its last renewal: a replica
     * that dies mid-run hands the job on after at most this long.
     */
    jobLeaseMs: positiveInt.min(1000).max(3_600_000).default(60_000),
    /** Files of what is not yet in the database (the sinks' delivery log, host history, usage by project and user). */
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
    sendTimeoutMs: positiveInt.default(DEFAULT_SEND_TIMEOUT_MS),
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

const emailAddress = z.string({ error: 'expected an email address' }).check((ctx) => {
  const problem = emailAddressProblem(ctx.value);
  if (problem !== null) ctx.issues.push({ code: 'custom', input: ctx.value, message: problem });
});

/** Contract section 11: each listed user's summary of yesterday, by email. */
export const SummaryEmailSchema = z
  .object({
    /** `smtp://[user:password@]host:port`, or `smtps://` for TLS from the start. */
    smtp: z.url({ protocol: /^smtps?$/, error: 'expected an smtp:// or smtps:// URL' }),
    from: emailAddress,
    /** Address by user key (as the USER level keys them). */
    users: z.record(z.string().min(1, { error: 'expected a user key' }), emailAddress).default({}),
    /** Where the message's link points: the dashboard's base URL as users reach it. */
    dashboardUrl: httpUrl.default('http://127.0.0.1:4000/'),
    /** How long one message may take to send (connecting included). */
    timeoutMs: positiveInt.default(60_000),
  })
  .strict();
export type SummaryEmailConfig = z.infer<typeof SummaryEmailSchema>;

export const SummariesSchema = z
  .object({
    /** Days before yesterday that each daily run summarises again (their hours may have changed). */
    lookbackDays: positiveInt.max(366).default(7),
    email: SummaryEmailSchema.optional(),
  })
  .strict();
export type SummariesConfig = z.infer<typeof SummariesSchema>;

const sha256Hex = z.string().regex(/^[0-9a-f]{64}$/, { error: 'expected 64 lower-case hex digits' });
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

export const ConfigSchema = z
  .object({
    prometheus: PrometheusSchema.prefault({}),
    workspaces: WorkspacesSchema.prefault({}),
    energy: EnergySchema.prefault({}),
    carbon: CarbonSchema.prefault({ source: 'static' }),
    store: StoreSchema.prefault({}),
    server: ServerSchema.prefault({}),
    schedule: ScheduleSchema.prefault({}),
    auth: AuthSchema.optional(),
    sources: SourcesSchema.prefault({}),
    sinks: SinksSchema.prefault({}),
    summaries: SummariesSchema.prefault({}),
  })
  .strict()
  .refine((config) => config.prometheus.enabled || config.sources.opennebula !== undefined, {
    error: 'no source is enabled: keep prometheus.enabled true or configure sources.opennebula',
    path: ['prometheus', 'enabled'],
  });
export type Config = z.infer<typeof ConfigSchema>;

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n  ${problems.join('\n  ')}`);
    this.name = 'ConfigError';
  }
}

/** Config paths an environment variable set, by path: an error there names the variable too. */
type EnvSources = ReadonlyMap<string, string>;

function formatIssue(issue: z.core.$ZodIssue, envSources: EnvSources): string {
  const path = issue.path.map(String).join('.');
  if (issue.code === 'unrecognized_keys') {
    const where = path === '' ? '' : `${path}.`;
    return issue.keys.map((key) => `${where}${key}: unknown key`).join('\n  ');
  }
  const variable = envSources.get(path);
  const where = path === '' ? '(root)' : variable === undefined ? path : `${path} (from ${variable})`;
  return `${where}: ${issue.message}`;
}

/** Validates an already-parsed config object. */
export function parseConfig(raw: unknown, envSources: EnvSources = new Map()): Config {
  const result = ConfigSchema.safeParse(raw);
  if (!result.success)
    throw new ConfigError(result.error.issues.map((issue) => formatIssue(issue, envSources)));
  return result.data;
}

type Env = Record<string, string | undefined>;

const ENV_OVERRIDES: ReadonlyArray<readonly [string, string]> = [
  ['PROMETHEUS_URL', 'prometheus.url'],
  ['DATA_DIR', 'store.dataDir'],
  ['DATABASE_URL', 'store.url'],
  ['HOST', 'server.host'],
  ['PORT', 'server.port'],
];

/** The environment's overrides laid over the file's values (ENV_OVERRIDES), before validation. */
function applyEnv(raw: Record<string, unknown>, env: Env): Record<string, unknown> {
  const out: Record<string, unknown> = { ...raw };
  for (const [name, path] of ENV_OVERRIDES) {
    const value = env[name];
    if (!value) continue;
    const [section, key] = path.split('.');
    // A non-numeric PORT stays a string so validation names it.
    const typed = name === 'PORT' && /^\d+$/.test(value) ? Number(value) : value;
    const current = out[section];
    const fields = typeof current === 'object' && current !== null && !Array.isArray(current) ? current : {};
    out[section] = { ...fields, [key]: typed };
  }
  return out;
}

/**
 * Loads the config file (`file`, else `CARBONLEDGER_CONFIG`, else none), applies the environment
 * overrides and validates. The only place that reads `process.env`.
 */
export function loadConfig(file?: string, env: Env = process.env): Config {
  const path = file ?? env.CARBONLEDGER_CONFIG;
  let raw: unknown = {};
  if (path) {
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch (err) {
      throw new ConfigError([`config file ${path}: cannot be read (${(err as Error).message})`]);
    }
    try {
      raw = JSON.parse(text);
    } catch (err) {
      throw new ConfigError([`config file ${path}: not valid JSON (${(err as Error).message})`]);
    }
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
      throw new ConfigError([`config file ${path}: expected a JSON object`]);
    }
  }
  const envSources = new Map(ENV_OVERRIDES.filter(([name]) => env[name]).map(([name, path]) => [path, name]));
  return parseConfig(applyEnv(raw as Record<string, unknown>, env), envSources);
}
