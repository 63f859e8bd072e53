/** Config sections of the plugins: sources, sinks, workspaces, carbon intensity and summaries (contract sections 5, 10, 11). */
import { z } from 'zod';
import { emailAddressProblem } from '../domain/email-address';
import { gramsPerKwh, httpUrl, nonNegativeNumber, wholeNumberIn, timeoutMs } from './primitives';

export const nameMap = (what: string) =>
  z.record(
    z.string(),
    z.string({ error: `expected ${what} name` }).min(1, { error: `expected ${what} name` }),
  );

export function mysqlUrlParses(url: string): boolean {
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
    timeoutMs: timeoutMs.default(60_000),
    /** Most rows read from a table in one query. */
    batchRows: wholeNumberIn(1, 1_000_000).default(10_000),
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
    timeoutMs: timeoutMs.default(30_000),
    /** Days back (before today) each run checks for complete days not yet accepted. */
    lookbackDays: wholeNumberIn(1, 366).default(7),
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
        timeoutMs: timeoutMs.default(30_000),
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

export const emailAddress = z.string({ error: 'expected an email address' }).check((ctx) => {
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
    timeoutMs: timeoutMs.default(60_000),
  })
  .strict();
export type SummaryEmailConfig = z.infer<typeof SummaryEmailSchema>;

export const SummariesSchema = z
  .object({
    /** Days before yesterday that each daily run summarises again (their hours may have changed). */
    lookbackDays: wholeNumberIn(1, 366).default(7),
    email: SummaryEmailSchema.optional(),
  })
  .strict();
export type SummariesConfig = z.infer<typeof SummariesSchema>;
