import type { Config } from '../config';
import type { PluginHost } from '../plugins/host';
import { scheduledIngestPlugin, type IngestRunOptions } from './plugin';
import { reconcilePlugin } from './reconcile';

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
}
