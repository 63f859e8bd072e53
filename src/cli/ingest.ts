import { constants as osConstants } from 'node:os';
import { parseArgs } from 'node:util';
import { loadConfig } from '../config';
import { ceilHour, floorHour } from '../domain/time';
import { boundHeapGrowthForBackfill } from '../ingest/heap';
import { hourRanges, ingestRange, type IngestReport } from '../ingest/run';
import { ingestDeps } from '../ingest/wiring';
import { jsonLogger, type Logger } from '../log';
import { selectorProblem } from '../plugins/prometheus/selector-check';
import { parseIsoDateTime } from '../schema/date-time';
import { openStore } from '../store/open';
import { withWriter } from '../store/store';
import { checkDataDir } from './data-dir';
import { progressBar } from './progress';
import { UsageError } from './usage-error';

/** Exit code of the contract when some hours failed. */
const EXIT_SOME_FAILED = 3;
/**
 * `ingest --require-data`: every hour ok, but in some no instance at all had samples. Not a
 * contract code (an hour with no samples is ok, so plain `ingest` exits 0); 1 is taken by crashes
 * and a held lock, so the first free one.
 */
const EXIT_NO_DATA = 4;
/** How long `ingest` waits for the dataDir lock: an hourly run takes seconds, a reconcile minutes. */
const DEFAULT_LOCK_WAIT_SECONDS = 600;

function parseInstant(name: string, value: string | undefined): number {
  if (value === undefined) throw new UsageError(`--${name} is required`);
  // The API's own reading: a date that names no real day (30 February) is refused, not rolled over.
  const ms = parseIsoDateTime(value);
  if (ms === null) {
    throw new UsageError(
      `--${name}: "${value}" is not an ISO-8601 date-time from 1970 to 9999, such as 2025-09-21T00:00:00Z`,
    );
  }
  return ms;
}

function parseSeconds(name: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (!/^\d+$/.test(value)) throw new UsageError(`--${name}: "${value}" is not a whole number of seconds`);
  return Number(value);
}

export async function ingestCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      from: { type: 'string' },
      to: { type: 'string' },
      config: { type: 'string' },
      'lock-wait': { type: 'string' },
      'require-data': { type: 'boolean', default: false },
      replace: { type: 'boolean', default: false },
    },
    strict: true,
  });
  const from = parseInstant('from', values.from);
  const to = parseInstant('to', values.to);
  if (from >= to) throw new UsageError('--from must be before --to');
  // Only whole hours inside [from, to) are ingested.
  const firstHour = ceilHour(from);
  const endHour = floorHour(to);
  if (firstHour >= endHour) throw new UsageError('--from/--to: the range holds no whole UTC hour');
  // An hour not yet over would be stored `ok` with what it held so far (nothing, for the future),
  // and stay so until the nightly reconcile re-ingests it as yesterday's.
  const currentHour = floorHour(Date.now());
  if (endHour > currentHour) {
    throw new UsageError(
      `--to: ${new Date(endHour).toISOString()} is after the current hour began ` +
        `(${new Date(currentHour).toISOString()}); an hour can be ingested once it is over`,
    );
  }

  const lockWaitMs = parseSeconds('lock-wait', values['lock-wait'], DEFAULT_LOCK_WAIT_SECONDS) * 1000;
  const config = loadConfig(values.config);
  await checkDataDir(config);
  const badSelector = await selectorProblem(config.prometheus);
  if (badSelector !== null) {
    throw new UsageError(
      `prometheus.selector: ${JSON.stringify(config.prometheus.selector)} is not valid PromQL (${badSelector})`,
    );
  }
  // On a terminal, log lines go above the progress bar rather than onto its line.
  const bar = process.stderr.isTTY ? progressBar(process.stderr, 'ingest') : undefined;
  const log = bar ? jsonLogger((line) => bar.writeLine(line)) : jsonLogger();
  boundHeapGrowthForBackfill();
  // Holding the store's writer, so serve's schedule and another ingest never write at the same
  // time; what a crash left is repaired once the writer is ours.
  const store = await openStore(config.store, log);
  const stopping = stopOnSignal(log);
  try {
    return await withWriter(store, { purpose: 'carbonledger ingest', waitMs: lockWaitMs }, async (writer) => {
      const deps = await ingestDeps(config, store, log, {
        now: Date.now,
        onProgress: bar ? (done, total) => bar.update(done, total) : undefined,
        replace: values.replace,
      });
      const report = await ingestRange({ ...deps, writer, signal: stopping.signal }, firstHour, endHour);
      bar?.finish();
      return reportIngest(report, log, deps.sourceQuery, values['require-data'] === true);
    });
  } catch (err) {
    if (!stopping.signal.aborted) throw err;
    bar?.finish();
    const signal = String(stopping.signal.reason);
    process.stderr.write(
      `carbonledger ingest: stopped by ${signal}; the steps it finished are stored, the one it was on is ` +
        `not: run the same command again to go on\n`,
    );
    return 128 + (osConstants.signals[signal as NodeJS.Signals] ?? 0);
  } finally {
    stopping.dispose();
    await store.close();
  }
}

/**
 * SIGTERM or SIGINT stops an ingestion between steps: each step's batch is written whole or not at
 * all, so stopping there leaves no half batch, and the writer's lock is let go on the way out.
 */
function stopOnSignal(log: Logger): { signal: AbortSignal; dispose(): void } {
  const controller = new AbortController();
  const stop = (signal: NodeJS.Signals) => {
    log.warn('stopping: the step being fetched is dropped, the stored ones stay', { signal });
    controller.abort(signal);
  };
  const signals: NodeJS.Signals[] = ['SIGTERM', 'SIGINT'];
  for (const signal of signals) process.once(signal, stop);
  return {
    signal: controller.signal,
    dispose: () => signals.forEach((signal) => process.off(signal, stop)),
  };
}

function reportIngest(
  report: IngestReport,
  log: Logger,
  query: string | undefined,
  requireData: boolean,
): number {
  const summary = {
    hours: report.hours,
    okHours: report.okHours,
    failedHours: report.failed.length,
    noDataHours: report.noDataHours.length,
    keptHours: report.kept.length,
  };
  log.info('ingest finished', summary);
  for (const failure of report.failed.slice(0, 20)) {
    log.warn('hour failed', { hour: new Date(failure.hour).toISOString(), error: failure.error });
  }
  process.stderr.write(`${ingestSummaryLine(report, query)}\n`);
  if (report.failed.length > 0) return EXIT_SOME_FAILED;
  return requireData && report.noDataHours.length > 0 ? EXIT_NO_DATA : 0;
}

/**
 * One line a person reads: what was ingested, and whether some hours held no data at all. An ok
 * answer whose hour kept its stored figures wrote nothing: it is counted as kept, not as ok.
 */
function ingestSummaryLine(report: IngestReport, query: string | undefined): string {
  const kept =
    report.kept.length > 0
      ? `, ${report.kept.length} kept (answered with fewer series or samples than stored: the stored ` +
        'figures stay, nothing written; see the log, --replace takes the answer)'
      : '';
  const failed =
    report.failed.length > 0
      ? `, ${report.failed.length} failed (stored as failed; an hour an earlier run stored ok keeps its figures)`
      : '';
  const ok = report.okHours - report.kept.length;
  const line = `carbonledger ingest: ${report.hours} hours, ${ok} ok${kept}${failed}`;
  if (report.noDataHours.length === 0) return `${line}.`;
  const [first] = hourRanges(report.noDataHours, 1);
  return (
    `${line}; no data: in ${report.noDataHours.length} of the hours answered ok (from ${first}) no instance had ` +
    `samples of ${query ?? 'the source'}: check prometheus.selector and that Prometheus scraped then.`
  );
}
