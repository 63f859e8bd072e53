import type { Config } from '../config';
import type { Logger } from '../log';
import { createCarbonSource } from '../plugins/carbon';
import { cpuSecondsSelector } from '../plugins/prometheus/promql';
import { createPrometheusSource } from '../plugins/prometheus/source';
import { emptyRegistry, loadWorkspaceRegistry } from '../plugins/workspaces/registry';
import type { Store } from '../store/store';
import { keepingRecordedIntensities } from './recorded-intensities';
import type { IngestDeps } from './run';

/**
 * Everything one ingestion needs, built from config. The registry is read afresh each time so an
 * edited registry file counts from the next run on.
 */
/** The parts of the config that ingestion reads. */
export type IngestSettings = Pick<Config, 'prometheus' | 'workspaces' | 'energy' | 'carbon' | 'store'>;

export async function ingestDeps(
  config: IngestSettings,
  store: Store,
  log: Logger,
  extra: Pick<IngestDeps, 'now' | 'signal' | 'onProgress' | 'replace'>,
): Promise<IngestDeps> {
  return {
    source: createPrometheusSource(config.prometheus, { log }),
    carbon: keepingRecordedIntensities(
      createCarbonSource(config.carbon, { dataDir: config.store.dataDir, log }),
      store,
    ),
    registry: config.workspaces.file ? await loadWorkspaceRegistry(config.workspaces.file) : emptyRegistry,
    store,
    energy: config.energy,
    labels: config.prometheus.labels,
    sourceQuery: cpuSecondsSelector(config.prometheus.selector),
    stepHours: config.prometheus.chunkHours,
    log,
    ...extra,
  };
}
