import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** Outcome of one GraphQL operation: `invalid` never executed (parse or validation failed). */
export type GraphQLOperationOutcome = 'ok' | 'error' | 'invalid';

/**
 * The service's own Prometheus metrics, on a registry of their own so that two servers in one
 * process (tests) never share or double-register series.
 */
export interface ServiceMetrics {
  registry: Registry;
  /** `route` is a fixed route name (never the raw path), so a scan of random URLs cannot add series. */
  httpRequests: Counter<'route' | 'status'>;
  httpRequestDuration: Histogram<'route'>;
  /** `operation` is a root field name from the schema, not the client-chosen operation name. */
  graphqlOperations: Counter<'operation' | 'outcome'>;
  /** Estimated cost held by the GraphQL answers in flight (server.maxAnswerCostInFlight bounds it). */
  answerCostInFlight: Gauge;
  /** `outcome` as the plugin host reports a run: ok, failed, error, timeout, skipped. */
  ingestRuns: Counter<'outcome'>;
  ingestFailedHours: Counter;
  ingestNoDataHours: Counter;
  /** Ok hours whose stored figures a run kept because the source answered with fewer series or samples. */
  ingestKeptHours: Counter;
  /** Start of the newest hour ingested ok, in epoch seconds. */
  lastOkHour: Gauge;
  /** Every plugin's runs (a source's fetches, a sink's deliveries), by plugin and outcome. */
  pluginRuns: Counter<'plugin' | 'outcome'>;
  /** Runs that failed, errored or timed out, by plugin. */
  pluginFailures: Counter<'plugin'>;
  /** End of the newest ok run, in epoch seconds, by plugin. */
  pluginLastSuccess: Gauge<'plugin'>;
}

export function createServiceMetrics(): ServiceMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const registers = [registry];
  return {
    registry,
    httpRequests: new Counter({
      name: 'carbonledger_http_requests_total',
      help: 'HTTP requests answered, by route and status code',
      labelNames: ['route', 'status'],
      registers,
    }),
    httpRequestDuration: new Histogram({
      name: 'carbonledger_http_request_duration_seconds',
      help: 'Time from request to the end of the response, by route',
      labelNames: ['route'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    }),
    graphqlOperations: new Counter({
      name: 'carbonledger_graphql_operations_total',
      help: 'GraphQL operations, by root field and outcome (ok, error, invalid)',
      labelNames: ['operation', 'outcome'],
      registers,
    }),
    answerCostInFlight: new Gauge({
      name: 'carbonledger_answer_cost_in_flight',
      help: 'Estimated cost of the GraphQL answers being computed or sent now; over server.maxAnswerCostInFlight, operations answer 503 SERVER_BUSY',
      registers,
    }),
    ingestRuns: new Counter({
      name: 'carbonledger_ingest_runs_total',
      help: 'Ingestion runs, by outcome (ok, failed, error, timeout, skipped)',
      labelNames: ['outcome'],
      registers,
    }),
    ingestFailedHours: new Counter({
      name: 'carbonledger_ingest_failed_hours_total',
      help:
        'Hours an ingestion run could not fetch, each time it tried: stored as failed unless already ok ' +
        '(a good hour keeps its figures), and counted again when a later run retries and fails again',
      registers,
    }),
    ingestNoDataHours: new Counter({
      name: 'carbonledger_ingest_no_data_hours_total',
      help:
        'Hours Prometheus answered for but no instance at all had samples in (stored ok with no usage: ' +
        'a selector that matches nothing, or no scraping then), each time a run ingested one',
      registers,
    }),
    ingestKeptHours: new Counter({
      name: 'carbonledger_ingest_kept_hours_total',
      help:
        'Ok hours a run re-ingested whose stored figures it kept: the source answered with fewer series ' +
        'than they hold (a Prometheus that lost its data), or fewer samples (OpenNebula pruned them); ' +
        '`carbonledger ingest --replace` replaces them',
      registers,
    }),
    lastOkHour: new Gauge({
      name: 'carbonledger_last_ok_hour_timestamp_seconds',
      help: 'Start of the newest hour ingested ok, as a Unix timestamp',
      registers,
    }),
    pluginRuns: new Counter({
      name: 'carbonledger_plugin_runs_total',
      help: 'Runs of each plugin (a source counts each fetch), by outcome (ok, failed, error, timeout, skipped)',
      labelNames: ['plugin', 'outcome'],
      registers,
    }),
    pluginFailures: new Counter({
      name: 'carbonledger_plugin_failures_total',
      help: 'Runs of each plugin that failed, errored or timed out',
      labelNames: ['plugin'],
      registers,
    }),
    pluginLastSuccess: new Gauge({
      name: 'carbonledger_plugin_last_success_timestamp_seconds',
      help: 'When each plugin last finished a run ok, as a Unix timestamp',
      labelNames: ['plugin'],
      registers,
    }),
  };
}
