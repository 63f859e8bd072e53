import type { Config } from '../config';
import type { Logger } from '../log';
import { createCarbonSource } from '../plugins/carbon';
import { cpuSecondsSelector } from '../plugins/prometheus/promql';
import type { RunOutcome } from '../plugins/host';
import { createOpenNebulaSource, OPENNEBULA_SOURCE } from '../plugins/opennebula/source';
import { createPrometheusSource } from '../plugins/prometheus/source';
import { combineSources, type NamedSource } from '../plugins/sources';
import { capabilitiesOf } from '../store/capabilities';
import type { HostHistoryStore } from '../store/host-history';
import { emptyRegistry, loadWorkspaceRegistry } from '../plugins/workspaces/registry';
import type { Store } from '../store/store';
import { keepingRecordedIntensities } from './recorded-intensities';
import type { IngestDeps } from './run';

/**
 * Everything one ingestion needs, built from config. The registry is read afresh each time so an
 * edited registry file counts from the next run on.
 */
/** The parts of the config that ingestion reads. */
export type IngestSettings = Pick<
  Config,
  'prometheus' | 'workspaces' | 'energy' | 'carbon' | 'store' | 'sources'
>;

/**
 * The enabled source plugins (contract section 10). Prometheus bounds each request and its retries
 * itself (`prometheus.timeoutMs`, `attempts`); OpenNebula's fetch is bounded as a whole.
 */
export function configuredSources(
  config: IngestSettings,
  log: Logger,
  now: () => number,
  hostHistory: Pick<HostHistoryStore, 'write'>,
): NamedSource[] {
  const sources: NamedSource[] = [];
  if (config.prometheus.enabled) {
    sources.push({
      name: 'prometheus',
      source: createPrometheusSource(config.prometheus, { log }),
    });
  }
  const opennebula = config.sources.opennebula;
  if (opennebula !== undefined) {
    sources.push({
      name: OPENNEBULA_SOURCE,
      source: createOpenNebulaSource(opennebula, { log, now, onHostHistory: (h) => hostHistory.write(h) }),
      timeoutMs: opennebula.timeoutMs,
    });
  }
  return sources;
}

export async function ingestDeps(
  config: IngestSettings,
  store: Store,
  log: Logger,
  extra: Pick<IngestDeps, 'now' | 'signal' | 'onProgress' | 'replace'> & {
    /** Told each source's fetch as that plugin's run (PluginContext.report). */
    report?: (plugin: string, outcome: RunOutcome) => void;
  },
): Promise<IngestDeps> {
  const { report, ...rest } = extra;
  const capabilities = capabilitiesOf(config.store, store);
  return {
    source: combineSources(configuredSources(config, log, extra.now, capabilities.hostHistory), report),
    carbon: keepingRecordedIntensities(
      createCarbonSource(config.carbon, { cache: store.intensityCache, log }),
      store,
    ),
    registry: config.workspaces.file ? await loadWorkspaceRegistry(config.workspaces.file) : emptyRegistry,
    store,
    energy: config.energy,
    labels: config.prometheus.labels,
    sourceQuery: config.prometheus.enabled ? cpuSecondsSelector(config.prometheus.selector) : undefined,
    stepHours: config.prometheus.chunkHours,
    log,
    projectUsers: capabilities.projectUsers,
    ...rest,
  };
}
