#!/usr/bin/env node
import { createHash, randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import { ConfigError, loadConfig } from './config';
import { ceilHour, floorHour } from './domain/time';
import { progressBar } from './cli/progress';
import { ingestRange } from './ingest/run';
import { ingestDeps } from './ingest/wiring';
import { errorFields, jsonLogger } from './log';
import { openJsonStore } from './store/json';

/** Exit codes of the contract: 2 for bad arguments or config, 3 when some hours failed. */
const EXIT_BAD_INPUT = 2;
const EXIT_SOME_FAILED = 3;

class UsageError extends Error {}

const USAGE = `usage:
  carbonledger serve [--config FILE] [--host H] [--port N] [--no-schedule] [--demo]
  carbonledger ingest --from ISO --to ISO [--config FILE]
  carbonledger export --level L --key K --from ISO --to ISO --granularity G [--format csv|json] [--config FILE]
  carbonledger token [--name N] [--projects P,…] [--users U,…] [--admin]`;

function parseInstant(name: string, value: string | undefined): number {
  if (value === undefined) throw new UsageError(`--${name} is required`);
  const ms = /^\d{4}-\d{2}-\d{2}/.test(value) ? Date.parse(value) : NaN;
  if (Number.isNaN(ms)) throw new UsageError(`--${name}: "${value}" is not an ISO-8601 date-time`);
  return ms;
}

async function ingestCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: { from: { type: 'string' }, to: { type: 'string' }, config: { type: 'string' } },
    strict: true,
  });
  const from = parseInstant('from', values.from);
  const to = parseInstant('to', values.to);
  if (from >= to) throw new UsageError('--from must be before --to');
  // Only whole hours inside [from, to) are ingested.
  const firstHour = ceilHour(from);
  const endHour = floorHour(to);
  if (firstHour >= endHour) throw new UsageError('--from/--to: the range holds no whole UTC hour');

  const config = loadConfig(values.config);
  const log = jsonLogger();
  const store = await openJsonStore({ dataDir: config.store.dataDir, log });
  const bar = process.stderr.isTTY ? progressBar(process.stderr, 'ingest') : undefined;
  try {
    const deps = await ingestDeps(config, store, bar ? log.child({}) : log, {
      now: Date.now,
      onProgress: bar ? (done, total) => bar.update(done, total) : undefined,
    });
    const report = await ingestRange(deps, firstHour, endHour);
    bar?.finish();
    const summary = { hours: report.hours, okHours: report.okHours, failedHours: report.failed.length };
    log.info('ingest finished', summary);
    for (const failure of report.failed.slice(0, 20)) {
      log.warn('hour failed', { hour: new Date(failure.hour).toISOString(), error: failure.error });
    }
    return report.failed.length > 0 ? EXIT_SOME_FAILED : 0;
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
    throw new UsageError('token: give --admin, or --projects and/or --users to scope it');
  }
  const token = randomBytes(32).toString('base64url');
  const entry = {
    name: values.name ?? `token-${new Date().toISOString().slice(0, 10)}`,
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

type Command = (argv: string[]) => Promise<number> | number;

const commands: Record<string, Command> = {
  ingest: ingestCommand,
  token: tokenCommand,
};

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  const command = name === undefined ? undefined : commands[name];
  if (!command) {
    process.stderr.write(`${name === undefined ? '' : `unknown command "${name}"\n`}${USAGE}\n`);
    return EXIT_BAD_INPUT;
  }
  try {
    return await command(rest);
  } catch (err) {
    if (err instanceof UsageError || err instanceof ConfigError || isArgsError(err)) {
      process.stderr.write(`carbonledger ${name}: ${(err as Error).message}\n`);
      return EXIT_BAD_INPUT;
    }
    jsonLogger().error(`${name} failed`, errorFields(err));
    return 1;
  }
}

function isArgsError(err: unknown): boolean {
  return (
    typeof err === 'object' &&
    err !== null &&
    String((err as { code?: unknown }).code).startsWith('ERR_PARSE_ARGS')
  );
}

if (require.main === module) {
  main(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
  });
}
