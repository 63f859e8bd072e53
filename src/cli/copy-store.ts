import { stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { loadConfig, StoreSchema, type StoreConfig } from '../config';
import { LEVELS } from '../domain/levels';
import { jsonLogger } from '../log';
import { capabilitiesOf } from '../store/capabilities';
import { copyStore, CopyMismatchError, NotACopyError, type CopyReport } from '../store/copy';
import { copyCapabilities, type CapabilitiesCopied } from '../store/copy-capabilities';
import { openStore } from '../store/open';
import { withWriter } from '../store/store';
import { dataDirProblem } from './data-dir';
import { UsageError } from './usage-error';

export const EXIT_COPY_DIFFERS = 3;
const DEFAULT_LOCK_WAIT_SECONDS = 600;

/** `carbonledger copy-store --from STORE --to STORE`: see COMMAND_HELP['copy-store']. */
export async function copyStoreCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: { from: { type: 'string' }, to: { type: 'string' }, 'lock-wait': { type: 'string' } },
    strict: true,
  });
  const lockWaitMs = lockWait(values['lock-wait']);
  const from = await storeOf('from', values.from, { mustExist: true });
  const to = await storeOf('to', values.to, { mustExist: false });
  if (sameStore(from, to)) throw new UsageError('--from and --to name the same store');
  const log = jsonLogger();
  const source = await openStore(from, log);
  try {
    const target = await openStore(to, log);
    try {
      const lock = { purpose: 'carbonledger copy-store', waitMs: lockWaitMs };
      // Both writers held: nothing ingests into the source while it is read, nor into the target.
      const [report, copied] = await withWriter(source, lock, () =>
        withWriter(target, lock, async (writer) => [
          await copyStore(source, target, writer, { log }),
          await copyCapabilities(capabilitiesOf(from, source), capabilitiesOf(to, target)),
        ]),
      );
      process.stdout.write(summary(report) + alsoCopied(copied));
      return 0;
    } finally {
      await target.close();
    }
  } catch (err) {
    if (err instanceof NotACopyError) throw new UsageError(`--to: ${err.message}`);
    if (err instanceof CopyMismatchError) {
      process.stderr.write(`carbonledger copy-store: copied, but the copy differs: ${err.message}\n`);
      return EXIT_COPY_DIFFERS;
    }
    throw err;
  } finally {
    await source.close();
  }
}

function lockWait(value: string | undefined): number {
  if (value === undefined) return DEFAULT_LOCK_WAIT_SECONDS * 1000;
  const seconds = Number(value);
  if (!Number.isFinite(seconds) || seconds < 0) throw new UsageError('--lock-wait: expected seconds ≥ 0');
  return seconds * 1000;
}

/**
 * A store named on the command line: a postgres:// URL, a config file (its `store` section), or
 * a JSON store's data directory. The environment's DATABASE_URL and DATA_DIR play no part: the
 * command line names both stores.
 */
async function storeOf(
  flag: string,
  value: string | undefined,
  options: { mustExist: boolean },
): Promise<StoreConfig> {
  if (value === undefined || value === '')
    throw new UsageError(`--${flag}: expected a data directory, a postgres:// URL or a config file`);
  if (/^postgres(ql)?:\/\//i.test(value)) {
    const parsed = StoreSchema.safeParse({ kind: 'postgres', url: value });
    if (!parsed.success) throw new UsageError(`--${flag}: not a valid postgres:// URL`);
    return parsed.data;
  }
  const found = await stat(value).catch(() => undefined);
  if (found?.isFile()) return loadConfig(value, {}).store;
  if (found === undefined && options.mustExist) throw new UsageError(`--${flag}: ${value} does not exist`);
  if (found !== undefined && !found.isDirectory())
    throw new UsageError(`--${flag}: ${value} is neither a directory nor a file`);
  if (!options.mustExist) {
    const problem = await dataDirProblem(value);
    if (problem !== null) throw new UsageError(`--${flag}: ${value} cannot hold a store: ${problem}`);
  }
  return StoreSchema.parse({ kind: 'json', dataDir: value });
}

function sameStore(a: StoreConfig, b: StoreConfig): boolean {
  if (a.kind === 'json' && b.kind === 'json') return resolve(a.dataDir) === resolve(b.dataDir);
  if (a.kind === 'postgres' && b.kind === 'postgres') {
    const [x, y] = [new URL(a.url), new URL(b.url)];
    return (
      x.hostname === y.hostname && (x.port || '5432') === (y.port || '5432') && x.pathname === y.pathname
    );
  }
  return false;
}

function summary(report: CopyReport): string {
  const keys = LEVELS.map((level) => `${level} ${report.keys[level]}`).join(', ');
  const resumed = report.resumedAt === null ? '' : ` (resumed at ${report.resumedAt})`;
  const totals = report.totals;
  return (
    `carbonledger copy-store: copied ${report.hours} hours (${report.okHours} ok, ${report.failedHours} failed) ` +
    `in ${report.daysCopied} days${resumed}; keys: ${keys}\n` +
    `verified: hours, keys and every year's totals equal; all projects: ` +
    `${round(totals.busyKwh + totals.idleKwh)} kWh CPU, ${round(totals.busyGco2eq + totals.idleGco2eq)} gCO2eq CPU\n`
  );
}

function alsoCopied(copied: CapabilitiesCopied): string {
  return (
    `also copied: ${copied.hostHistories} instance host histories, ${copied.deliveries} sink deliveries, ` +
    `${copied.projectUserDays} days of usage by project and user\n`
  );
}

const round = (value: number): string => String(Number(value.toPrecision(12)));
