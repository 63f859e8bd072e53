import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { EnergySchema, PrometheusSchema } from './measuring';
import { CarbonSchema, SinksSchema, SourcesSchema, SummariesSchema, WorkspacesSchema } from './plugins';
import { AuthSchema, ScheduleSchema, ServerSchema, StoreSchema } from './service';

/** The one source of configuration types: defaults live here, and every error names its path. */
export * from './measuring';
export * from './plugins';
export * from './service';

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

/** Why a key an environment variable set is unknown where it landed. */
const ENV_KEY_HINTS: ReadonlyMap<string, string> = new Map([
  [
    'store.url',
    'the config\'s store is "json", which has no url: unset DATABASE_URL, or set store.kind to "postgres" to use that database',
  ],
]);

function formatIssue(issue: z.core.$ZodIssue, envSources: EnvSources): string {
  const path = issue.path.map(String).join('.');
  if (issue.code === 'unrecognized_keys') {
    const where = path === '' ? '' : `${path}.`;
    return issue.keys
      .map((key) => {
        const variable = envSources.get(`${where}${key}`);
        if (variable === undefined) return `${where}${key}: unknown key`;
        const hint = ENV_KEY_HINTS.get(`${where}${key}`);
        return `${where}${key} (from ${variable}): unknown key${hint === undefined ? '' : ` (${hint})`}`;
      })
      .join('\n  ');
  }
  const variable = envSources.get(path);
  const where = path === '' ? '(root)' : variable === undefined ? path : `${path} (from ${variable})`;
  return `${where}: ${issue.message}`;
}

/** Validates an already-parsed config object. */
export function parseConfig(raw: unknown, envSources: EnvSources = new Map()): Config {
  const result = ConfigSchema.safeParse(raw);
  // A value may miss several checks of one message (0 for a whole number from 1000): said once.
  if (!result.success)
    throw new ConfigError([...new Set(result.error.issues.map((issue) => formatIssue(issue, envSources)))]);
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
