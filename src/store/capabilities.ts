import type { StoreConfig } from '../config';
import type { DeliveryLog } from './deliveries';
import type { HostHistoryStore } from './host-history';
import { jsonDeliveryLog } from './json/deliveries';
import { jsonHostHistory } from './json/host-history';
import { jsonProjectUsers } from './json/project-users';
import type { ProjectUserFigures } from './project-users';
import { jsonDailySummaries, jsonSummarySubscribers } from './json/summaries';
import { jsonSummaryEmailLog } from './json/summary-emails';
import type { Store } from './store';
import type { DailySummaryStore, SummaryEmailLog, SummarySubscribers } from './summaries';

/** What some plugins keep beside the figures, in the same store as the figures. */
export interface StoreCapabilities {
  /** What sinks sent, and the answers. */
  deliveries: DeliveryLog;
  /** Instances' host history as their source reports it. */
  hostHistory: HostHistoryStore;
  /** Usage by project and user. */
  projectUsers: ProjectUserFigures;
}

/**
 * A store that keeps the capabilities in itself (the PostgreSQL store: tables in its database, on
 * its pools, so they close with it). Asked of the store so that this module, and every process of
 * the JSON store, does not load a database driver.
 */
export interface KeepsCapabilities {
  capabilities(): StoreCapabilities;
  summaryStores(): SummaryStores;
}

function keepsCapabilities(store: Store): store is Store & KeepsCapabilities {
  const candidate = store as Partial<KeepsCapabilities>;
  return typeof candidate.capabilities === 'function' && typeof candidate.summaryStores === 'function';
}

/** The opened store of a `postgres` config, which keeps its capabilities itself. */
function databaseStore(store: Store): Store & KeepsCapabilities {
  if (!keepsCapabilities(store)) {
    throw new TypeError('store.kind is "postgres" but the store given is not the PostgreSQL store');
  }
  return store;
}

/**
 * The capabilities of the configured store: files beside the JSON store's, or tables in the
 * PostgreSQL store's database. `store` is the store opened from `config`.
 */
export function capabilitiesOf(
  config: Pick<StoreConfig, 'kind' | 'dataDir'>,
  store: Store,
): StoreCapabilities {
  if (config.kind === 'postgres') return databaseStore(store).capabilities();
  return {
    deliveries: jsonDeliveryLog(config.dataDir),
    hostHistory: jsonHostHistory(config.dataDir),
    projectUsers: jsonProjectUsers(config.dataDir),
  };
}

/** What daily summaries keep in the store: the summaries, their emails, and the self-listed users. */
export interface SummaryStores {
  summaries: DailySummaryStore;
  emails: SummaryEmailLog;
  subscribers: SummarySubscribers;
}

/** The summaries' capabilities of an opened store: in its database, or beside its JSON files. */
export function summaryStoresFor(store: Store, config: Pick<StoreConfig, 'kind' | 'dataDir'>): SummaryStores {
  if (config.kind === 'postgres') return databaseStore(store).summaryStores();
  return {
    summaries: jsonDailySummaries(config.dataDir),
    emails: jsonSummaryEmailLog(config.dataDir),
    subscribers: jsonSummarySubscribers(config.dataDir),
  };
}
