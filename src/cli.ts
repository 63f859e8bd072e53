#!/usr/bin/env node
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { ConfigError, listenHost, loadConfig, type Config } from './config';
import { LEVELS } from './domain/levels';
import { GRANULARITIES } from './domain/time';
import { checkDataDir } from './cli/data-dir';
import { COMMAND_HELP, USAGE } from './cli/help';
import { UsageError } from './cli/usage-error';
import { errorFields, jsonLogger } from './log';
import { EXPORT_FORMATS, ExportInputError, type ExportFormat } from './export-formats';
import { parseDateTimeInput } from './schema/date-time';
import { ListenError, UnsafeListenError } from './listen-errors';
import { validateRange } from './services/validation';
import { openStore } from './store/open';
import { StoreLockedError } from './store/store';
import { redactCredentials } from './domain/redact';

/** Exit code of the contract for bad arguments or config. */
const EXIT_BAD_INPUT = 2;

/** `--port` and `--host` win over the config file and the environment. */
function withListenFlags(config: Config, host: string | undefined, port: string | undefined): Config {
  if (port !== undefined && !/^\d{1,5}$/.test(port))
    throw new UsageError(`--port: "${port}" is not a port number`);
  const server = {
    ...config.server,
    host: host === undefined ? config.server.host : listenHost(host),
    port: port === undefined ? config.server.port : Number(port),
  };
  if (server.port > 65535) throw new UsageError(`--port: ${port} is above 65535`);
  return { ...config, server };
}

async function serveCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      config: { type: 'string' },
      host: { type: 'string' },
      port: { type: 'string' },
      'no-schedule': { type: 'boolean', default: false },
      demo: { type: 'boolean', default: false },
    },
    strict: true,
  });
  const config = withListenFlags(loadConfig(values.config), values.host, values.port);
  await checkDataDir(config, values['no-schedule'] && !values.demo);
  const log = jsonLogger();
  const { startService } = await import('./serve');
  const service = await startService({ config, log, schedule: !values['no-schedule'], demo: values.demo });
  process.stderr.write(
    `carbonledger: serving ${service.url} (open it in a browser for the playground); ` +
      `the dashboard is at ${new URL('/', service.url).href}\n`,
  );
  const signal = await new Promise<NodeJS.Signals>((resolve) => {
    process.once('SIGTERM', () => resolve('SIGTERM'));
    process.once('SIGINT', () => resolve('SIGINT'));
  });
  log.info('stopping', { signal });
  await service.close();
  return 0;
}

function parseChoice<T extends string>(name: string, value: string | undefined, choices: readonly T[]): T {
  if (value === undefined) throw new UsageError(`--${name} is required (one of ${choices.join(', ')})`);
  const match = choices.find((choice) => choice.toLowerCase() === value.toLowerCase());
  if (match === undefined) throw new UsageError(`--${name}: "${value}" is not one of ${choices.join(', ')}`);
  return match;
}

async function exportCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      level: { type: 'string' },
      key: { type: 'string' },
      from: { type: 'string' },
      to: { type: 'string' },
      granularity: { type: 'string' },
      format: { type: 'string', default: 'csv' },
      config: { type: 'string' },
    },
    strict: true,
  });
  const level = parseChoice('level', values.level, LEVELS);
  const granularity = parseChoice('granularity', values.granularity, GRANULARITIES);
  const format = parseChoice<ExportFormat>('format', values.format, EXPORT_FORMATS);
  if (values.key === undefined) throw new UsageError('--key is required');
  if (values.from === undefined) throw new UsageError('--from is required');
  if (values.to === undefined) throw new UsageError('--to is required');
  const config = loadConfig(values.config);
  // A store not made yet reads as empty: a mistyped DATA_DIR would export a plausible series of MISSING.
  // The range is checked first, as the export itself checks it, so a mistake there is named as such.
  if (config.store.kind === 'json' && !existsSync(config.store.dataDir)) {
    try {
      validateRange({
        from: parseDateTimeInput(values.from),
        to: parseDateTimeInput(values.to),
        granularity,
      });
    } catch (err) {
      throw new UsageError((err as Error).message);
    }
    throw new UsageError(
      `store.dataDir (or DATA_DIR): ${config.store.dataDir} does not exist; nothing to export`,
    );
  }
  const log = jsonLogger();
  const [{ exportSeries }, { buildAppSchema }] = await Promise.all([
    import('./export'),
    import('./app-schema'),
  ]);
  const store = await openStore(config.store, log);
  try {
    const text = await exportSeries(
      { schema: await buildAppSchema(), store, log },
      { level, key: values.key, from: values.from, to: values.to, granularity },
      format,
    );
    await new Promise<void>((resolve, reject) =>
      process.stdout.write(text, (err) => (err ? reject(err) : resolve())),
    );
    return 0;
  } catch (err) {
    if (err instanceof ExportInputError) throw new UsageError(err.message);
    throw err;
  } finally {
    await store.close();
  }
}

function tokenCommand(argv: string[]): number {
  const { values } = parseArgs({
    args: argv,
    options: {
      name: { type: 'string' },
      projects: { type: 'string' },
      users: { type: 'string' },
      admin: { type: 'boolean', default: false },
    },
    strict: true,
  });
  const list = (csv?: string) =>
    csv
      ?.split(',')
      .map((s) => s.trim())
      .filter(Boolean);
  const projects = list(values.projects);
  const users = list(values.users);
  if (!values.admin && !projects?.length && !users?.length) {
    throw new UsageError('give --admin, or --projects and/or --users to scope it');
  }
  if (values.admin && (projects?.length || users?.length)) {
    throw new UsageError('an admin token sees everything: give --admin or --projects/--users, not both');
  }
  const token = randomBytes(32).toString('base64url');
  const entry = {
    // Unique without --name: the config refuses two tokens of one name.
    name: values.name ?? `token-${new Date().toISOString().slice(0, 10)}-${randomBytes(4).toString('hex')}`,
    sha256: createHash('sha256').update(token).digest('hex'),
    ...(values.admin ? { role: 'admin' } : {}),
    ...(projects?.length ? { projects } : {}),
    ...(users?.length ? { users } : {}),
  };
  process.stdout.write(
    `token (shown once; give it to its holder):\n${token}\n\nadd to "auth.tokens" in the config:\n${JSON.stringify(entry, null, 2)}\n`,
  );
  return 0;
}

/** `carbonledger migrate`: brings a PostgreSQL store's schema to this build's version, and says so. */
async function migrateCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({ args: argv, options: { config: { type: 'string' } }, strict: true });
  const config = loadConfig(values.config);
  if (config.store.kind !== 'postgres') {
    throw new UsageError(`store.kind: "${config.store.kind}" has no schema to migrate (only "postgres" has)`);
  }
  const { migrate, openPostgresStore, postgresStoreOptions } = await import('./store/postgres');
  const log = jsonLogger();
  const store = await openPostgresStore({ ...postgresStoreOptions(config.store), log, migrate: false });
  try {
    const applied = await migrate(store.pool, log);
    process.stdout.write(
      applied.length === 0
        ? 'carbonledger migrate: the schema is up to date\n'
        : `carbonledger migrate: applied ${applied.map((version) => `version ${version}`).join(', ')}\n`,
    );
    return 0;
  } finally {
    await store.close();
  }
}

type Command = (argv: string[]) => Promise<number> | number;

/** The verbs; those in modules of their own are loaded when run, with only what they need. */
const commands: Record<string, Command> = {
  serve: serveCommand,
  ingest: async (argv) => (await import('./cli/ingest')).ingestCommand(argv),
  export: exportCommand,
  token: tokenCommand,
  sinks: async (argv) => (await import('./cli/sinks')).sinksCommand(argv),
  migrate: migrateCommand,
  'copy-store': async (argv) => (await import('./cli/copy-store')).copyStoreCommand(argv),
  summarize: async (argv) => (await import('./cli/summarize')).summarizeCommand(argv),
  prune: async (argv) => (await import('./cli/prune')).pruneCommand(argv),
};

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === '--version' || name === '-V') {
    process.stdout.write(`${packageVersion()}\n`);
    return 0;
  }
  if (name === 'help' || name === '-h' || argv.includes('--help') || argv.includes('-h')) {
    const topic = name === 'help' || name === '-h' || name === '--help' ? rest[0] : name;
    if (topic !== undefined && !Object.hasOwn(COMMAND_HELP, topic) && !topic.startsWith('-')) {
      process.stderr.write(`unknown command "${topic}"\n${USAGE}\n`);
      return EXIT_BAD_INPUT;
    }
    const help = topic !== undefined && Object.hasOwn(COMMAND_HELP, topic) ? COMMAND_HELP[topic] : USAGE;
    process.stdout.write(`${help}\n`);
    return 0;
  }
  const command = name === undefined ? undefined : commands[name];
  if (!command) {
    process.stderr.write(`${name === undefined ? '' : `unknown command "${name}"\n`}${USAGE}\n`);
    return EXIT_BAD_INPUT;
  }
  try {
    return await command(rest);
  } catch (err) {
    if (
      err instanceof UsageError ||
      err instanceof ConfigError ||
      err instanceof UnsafeListenError ||
      isArgsError(err)
    ) {
      process.stderr.write(`carbonledger ${name}: ${redactCredentials((err as Error).message)}\n`);
      return EXIT_BAD_INPUT;
    }
    if (err instanceof ListenError) {
      process.stderr.write(`carbonledger ${name}: ${err.message}\n`);
      return err.addressUnknown ? EXIT_BAD_INPUT : 1;
    }
    // Matched by name: the PostgreSQL store's refusal of a schema newer than this build is a
    // condition to act on, not a crash, and importing its class would load the database driver.
    if (err instanceof StoreLockedError || (err instanceof Error && err.name === 'SchemaTooNewError')) {
      process.stderr.write(`carbonledger ${name}: ${err.message}\n`);
      return 1;
    }
    jsonLogger().error(`${name} failed`, errorFields(err));
    return 1;
  }
}

function packageVersion(): string {
  const manifest = JSON.parse(readFileSync(join(__dirname, '..', 'package.json'), 'utf8')) as {
    version: string;
  };
  return manifest.version;
}

function isArgsError(err: unknown): boolean {
  return (
    typeof err === 'object' &&
    err !== null &&
    String((err as { code?: unknown }).code).startsWith('ERR_PARSE_ARGS')
  );
}

if (require.main === module) {
  // A reader that stops early (`export … | head`) closes the pipe: what it did not read is not
  // wanted, which is no error of ours.
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code !== 'EPIPE') throw err;
    process.exit(0);
  });
  main(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
  });
}
