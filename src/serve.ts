import { UnsafeListenError } from './listen-errors';
import { storeScopeIndex } from './auth/scope-index';
import type { Config } from './config';
import { systemClock, type Clock } from './domain/clock';
import { seedDemo, summariseDemoDays } from './demo/seed';
import { ingestRunRecorder, primeLastOkHour } from './ingest/metrics';
import { RECONCILE_PLUGIN } from './ingest/reconcile';
import { registerIngestion } from './ingest/schedule';
import type { Logger } from './log';
import { createServiceMetrics, type ServiceMetrics } from './metrics';
import { createActivePoller } from './plugins/active';
import { selectorProblem } from './plugins/prometheus/selector-check';
import { PluginHost } from './plugins/host';
import { registerSummaries } from './plugins/summaries';
import { allListeners, pluginRunRecorder } from './plugins/run-metrics';
import { buildAppSchema, createRequestContext } from './app-schema';
import { holdPort, startServer } from './server';
import { capabilitiesOf, summaryStoresFor } from './store/capabilities';
import { openStore } from './store/open';
import { answersOf, withWriter } from './store/store';

export interface ServeOptions {
  config: Config;
  log: Logger;
  /** Run the ingestion schedule and the active-workspace poller (contract section 5). */
  schedule: boolean;
  /** Fill an empty store with generated usage before listening. */
  demo: boolean;
  clock?: Clock;
  /** Days the demo generates, up to the last whole hour. */
  demoDays?: number;
}

export interface RunningService {
  url: string;
  port: number;
  metrics: ServiceMetrics;
  /** Stops the schedule (waiting for a running ingest), then the server, then the store. */
  close(): Promise<void>;
}

const LOOPBACK = /^(127\.\d+\.\d+\.\d+|localhost|::1)$/;

/**
 * Contract section 7: without an `auth` section the API is open, so it may only be reached from
 * this machine until access is configured on purpose.
 */
export function checkListenSafety(config: Pick<Config, 'auth' | 'server'>): void {
  if (config.auth !== undefined || LOOPBACK.test(config.server.host)) return;
  throw new UnsafeListenError(
    `server.host: refusing to listen on ${config.server.host} with no "auth" section; ` +
      'configure auth.tokens (see `carbonledger token`) or set "auth": { "anonymous": true } on purpose',
  );
}

/** How long `serve --demo` waits for another process's writer (as long as `ingest --lock-wait`'s default). */
const DEMO_WRITER_WAIT_MS = 600_000;

/** `carbonledger serve`: the store, the schedule and the HTTP server, wired from config. */
export async function startService(options: ServeOptions): Promise<RunningService> {
  const { config, log } = options;
  const clock = options.clock ?? systemClock;
  checkListenSafety(config);

  const store = await openStore(config.store, log.child({ component: 'store' }));
  const metrics = createServiceMetrics();
  const host = new PluginHost({
    store,
    clock,
    log,
    onRun: allListeners(
      ingestRunRecorder(metrics),
      pluginRunRecorder(metrics, () => clock.now()),
    ),
    claims: store.jobClaims,
  });
  const poller = createActivePoller({
    config,
    log,
    clock,
    pollOnRead: !options.schedule,
    intensityCache: store.intensityCache,
  });
  const summaries = summaryStoresFor(store, config.store);
  // The API's reads may come from a hot standby (`store.readUrl`) while it is current; the jobs
  // above (ingest, reconcile, summaries, sinks) read and write the primary only.
  const answers = answersOf(store);
  const { hostHistory } = capabilitiesOf(config.store, answers);
  const storeVersion = () => answers.version();
  // The access index and the answer cache follow one version, so a change reaches both at once.
  const scopeIndex = storeScopeIndex(answers, storeVersion);
  let releasePort: (() => Promise<void>) | undefined;
  try {
    if (options.demo) {
      releasePort = await holdPort(config.server.host, config.server.port);
      // The demo writes through the ingestion path, so it takes the writer as any ingestion does;
      // a replica started beside another waits for that one's fill, then finds the store filled.
      const writing = { purpose: 'serve --demo', waitMs: DEMO_WRITER_WAIT_MS };
      const seeded = await withWriter(store, writing, (writer) =>
        seedDemo({ store, writer, energy: config.energy, log, now: clock.now(), days: options.demoDays }),
      );
      if (seeded !== undefined) {
        await summariseDemoDays(
          store,
          summaries.summaries,
          clock.now(),
          Math.min(30, options.demoDays ?? 30),
        );
      }
    }
    await primeLastOkHour(metrics, store, clock.now());
    // The first look at a standby: one that cannot be read is warned of now (the API then reads
    // from the primary until it can), not at the first request.
    if (answers !== store) await storeVersion();
    if (options.schedule && config.prometheus.enabled) {
      // Only Prometheus's 400 at the first ingest would say so otherwise; the service still starts.
      const badSelector = await selectorProblem(config.prometheus);
      if (badSelector !== null) {
        log.warn('prometheus.selector: not valid PromQL; every ingested hour will fail until it is fixed', {
          selector: config.prometheus.selector,
          error: badSelector,
        });
      }
    }
    if (options.schedule) {
      registerIngestion(host, config);
      registerSummaries(host, config, summaries, { after: RECONCILE_PLUGIN });
      if (config.prometheus.enabled) host.register(poller.plugin, undefined);
      host.start();
    }
    await releasePort?.();
    releasePort = undefined;
    const server = await startServer({
      schema: await buildAppSchema(),
      context: ({ principal, signal }) =>
        createRequestContext({
          store: answers,
          clock,
          log,
          principal,
          signal,
          scopeIndex,
          activeWorkspaces: poller.source,
          summaries,
          hostHistory,
        }),
      auth: config.auth,
      store: answers,
      log,
      host: config.server.host,
      port: config.server.port,
      metrics,
      maxAnswerCostInFlight: config.server.maxAnswerCostInFlight,
      sendTimeoutMs: config.server.sendTimeoutMs,
      storeVersion,
    });
    return {
      url: server.url,
      port: server.port,
      metrics,
      async close() {
        await host.stop();
        await server.close();
        await store.close();
      },
    };
  } catch (err) {
    await releasePort?.();
    await host.stop();
    await store.close();
    throw err;
  }
}
