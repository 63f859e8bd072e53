import type { Config } from '../config';
import type { PluginHost } from '../plugins/host';
import { perseusSinkPlugin } from '../plugins/perseus/sink';
import { capabilitiesOf } from '../store/capabilities';
import { scheduledIngestPlugin, type IngestRunOptions } from './plugin';
import { RECONCILE_PLUGIN, reconcilePlugin } from './reconcile';

/**
 * Registers the ingestion schedule of `carbonledger serve` (contract section 5): the hourly ingest
 * on `schedule.ingest` and the daily reconcile on `schedule.reconcile`. Both take the dataDir
 * ingest lock, so they never run at once with each other or with an `ingest` command.
 */
export function registerIngestion(
  host: PluginHost,
  config: Config,
  options: Pick<IngestRunOptions, 'makeDeps' | 'lock'> = {},
): void {
  host.register(scheduledIngestPlugin({ schedule: config.schedule.ingest, ...options }), config);
  host.register(reconcilePlugin({ schedule: config.schedule.reconcile, ...options }), config);
  registerSinks(host, config);
}

/**
 * The sinks of contract section 10, each run after every reconcile (which completes yesterday and
 * retries failed hours), so a day is delivered once it is complete and retried until accepted.
 */
export function registerSinks(host: PluginHost, config: Config, fetchImpl?: typeof fetch): void {
  if (config.sinks.perseus !== undefined) {
    host.register(
      perseusSinkPlugin({
        // The host's store, whichever backend the config names: what was sent is kept beside the figures.
        capabilities: (store) => capabilitiesOf(config.store, store),
        after: RECONCILE_PLUGIN,
        fetch: fetchImpl,
      }),
      config.sinks.perseus,
    );
  }
}
