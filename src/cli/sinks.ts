import { existsSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { loadConfig, type Config } from '../config';
import { DAY_MS, utcDate } from '../domain/time';
import { jsonLogger, type Logger } from '../log';
import { daysToDeliver, deliverDays, PERSEUS_SINK } from '../plugins/perseus/sink';
import { capabilitiesOf } from '../store/capabilities';
import type { Delivery } from '../store/deliveries';
import { openStore, type OpenedStore } from '../store/open';
import { COMMAND_HELP } from './help';
import { UsageError } from './usage-error';

const EXIT_SOME_NOT_ACCEPTED = 3;
/** Most days one `sinks run` delivers. */
const MAX_DAYS = 366;

function parseDay(name: string, value: string): number {
  const ms = /^\d{4}-\d{2}-\d{2}$/.test(value) ? Date.parse(`${value}T00:00:00Z`) : Number.NaN;
  if (!Number.isFinite(ms) || utcDate(ms) !== value) {
    throw new UsageError(`--${name}: "${value}" is not a day such as 2025-09-21`);
  }
  return ms;
}

/** The days of `--from`/`--to`, both included; null for neither. */
function daysOf(from: string | undefined, to: string | undefined, now: number): string[] | null {
  if ((from === undefined) !== (to === undefined))
    throw new UsageError('give both --from and --to, or neither');
  if (from === undefined || to === undefined) return null;
  const first = parseDay('from', from);
  const last = parseDay('to', to);
  if (first > last) throw new UsageError('--from must not be after --to');
  if ((last - first) / DAY_MS + 1 > MAX_DAYS)
    throw new UsageError(`--from/--to: at most ${MAX_DAYS} days at once`);
  if (last + DAY_MS > now) throw new UsageError(`--to: ${utcDate(last)} is not over yet`);
  const days: string[] = [];
  for (let day = first; day <= last; day += DAY_MS) days.push(utcDate(day));
  return days;
}

/**
 * The configured store, opened. A JSON store's dataDir must exist: opening would create it, and a
 * mistyped DATA_DIR would then look like a store with nothing in it.
 */
async function openExisting(config: Config, log: Logger, nothing: string): Promise<OpenedStore> {
  if (config.store.kind === 'json' && !existsSync(config.store.dataDir)) {
    throw new UsageError(`store.dataDir (or DATA_DIR): ${config.store.dataDir} does not exist; ${nothing}`);
  }
  return openStore(config.store, log);
}

function perseusConfig(config: Config): NonNullable<Config['sinks']['perseus']> {
  const perseus = config.sinks.perseus;
  if (perseus === undefined) throw new UsageError('sinks.perseus: no sink is configured');
  return perseus;
}

async function runCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: { from: { type: 'string' }, to: { type: 'string' }, config: { type: 'string' } },
    strict: true,
  });
  const config = loadConfig(values.config);
  const perseus = perseusConfig(config);
  const now = Date.now();
  const asked = daysOf(values.from, values.to, now);
  const log = jsonLogger();
  const store = await openExisting(config, log, 'nothing to send');
  try {
    const capabilities = capabilitiesOf(config.store, store);
    // By default the scheduled run's days: the lookback and every day not yet accepted, so exit 0
    // means what `sinks status` shows.
    const days =
      asked ?? daysToDeliver(now, perseus.lookbackDays, await capabilities.deliveries.read(PERSEUS_SINK));
    const report = await deliverDays({ store, log, now }, perseus, capabilities, days);
    const lines = [
      `${PERSEUS_SINK}: ${report.completeDays.length} complete day(s), ${report.sent} sent, ${report.accepted} accepted, ` +
        `${report.unchanged} unchanged, ${report.notAccepted.length} not accepted`,
      ...report.incompleteDays.map((day) => `  ${day}: not complete (some hour not ok); not sent`),
      ...report.notAccepted.map(
        (n) =>
          `  ${n.day} ${n.project}: ${n.status}${n.httpStatus === null ? '' : ` (HTTP ${n.httpStatus})`} ${n.answer}`,
      ),
      ...(report.unauthorized
        ? ['  PERSEUS refused the token (sinks.perseus.token); the rest was not sent']
        : []),
    ];
    process.stdout.write(`${lines.join('\n')}\n`);
    return report.notAccepted.length > 0 || report.unauthorized ? EXIT_SOME_NOT_ACCEPTED : 0;
  } finally {
    await store.close();
  }
}

/** One line per delivered entry: day, project, split, status, HTTP status, when, attempts, amount sent, answer. */
export function formatDeliveries(deliveries: readonly Delivery[]): string {
  const header = [
    'day',
    'project',
    'user/partition',
    'status',
    'http',
    'sent at',
    'attempts',
    'value',
    'answer',
  ];
  const rows = [...deliveries]
    .sort((a, b) => (a.day === b.day ? (a.key < b.key ? -1 : 1) : a.day < b.day ? -1 : 1))
    .map((d) => {
      const parts = JSON.parse(d.key) as Array<string | null>;
      const split = [parts[5], parts[6]].filter((p) => p !== null).join('/') || '-';
      return [
        d.day,
        d.project,
        split,
        d.status,
        String(d.httpStatus ?? '-'),
        d.sentAt,
        String(d.attempts),
        d.value === undefined ? '-' : String(Number(d.value.toPrecision(12))),
        d.answer.replace(/\s+/g, ' ').slice(0, 80),
      ];
    });
  return [header, ...rows].map((row) => row.join('\t')).join('\n');
}

async function statusCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({ args: argv, options: { config: { type: 'string' } }, strict: true });
  const config = loadConfig(values.config);
  perseusConfig(config);
  const store = await openExisting(config, jsonLogger(), 'nothing was sent');
  let deliveries: Delivery[];
  try {
    deliveries = await capabilitiesOf(config.store, store).deliveries.read(PERSEUS_SINK);
  } finally {
    await store.close();
  }
  process.stdout.write(
    `${PERSEUS_SINK}: ${deliveries.length} entr${deliveries.length === 1 ? 'y' : 'ies'}\n${formatDeliveries(deliveries)}\n`,
  );
  return 0;
}

/** `carbonledger sinks run|status`. */
export async function sinksCommand(argv: string[]): Promise<number> {
  const [verb, ...rest] = argv;
  if (verb === 'run') return runCommand(rest);
  if (verb === 'status') return statusCommand(rest);
  throw new UsageError(
    `sinks: expected "run" or "status"${verb === undefined ? '' : `, not "${verb}"`}\n${COMMAND_HELP.sinks}`,
  );
}
