import type { StoreConfig } from '../config';
import type { DeliveryLog } from './deliveries';
import type { HostHistoryStore } from './host-history';
import { jsonDeliveryLog } from './json/deliveries';
import { jsonHostHistory } from './json/host-history';
import { jsonProjectUsers } from './json/project-users';
import type { ProjectUserFigures } from './project-users';
import { jsonDailySummaries, jsonSummarySubscribers } from './json/summaries';
import { jsonSummaryEmailLog } from './json/summary-emails';
import { PostgresStore } from './postgres/postgres-store';
import {
  postgresDailySummaries,
  postgresSummaryEmailLog,
  postgresSummarySubscribers,
} from './postgres/summaries';
import type { Store } from './store';
import type { DailySummaryStore, SummaryEmailLog, SummarySubscribers } from './summaries';

/** The configured store's delivery log (what sinks sent, and the answers). */
export function deliveryLogFor(store: Pick<StoreConfig, 'kind' | 'dataDir'>): DeliveryLog {
  return jsonDeliveryLog(store.dataDir);
}

/** The configured store's host history of instances. */
export function hostHistoryFor(store: Pick<StoreConfig, 'kind' | 'dataDir'>): HostHistoryStore {
  return jsonHostHistory(store.dataDir);
}

/** The configured store's usage by project and user. */
export function projectUsersFor(store: Pick<StoreConfig, 'kind' | 'dataDir'>): ProjectUserFigures {
  return jsonProjectUsers(store.dataDir);
}

/** What daily summaries keep in the store: the summaries, their emails, and the self-listed users. */
export interface SummaryStores {
  summaries: DailySummaryStore;
  emails: SummaryEmailLog;
  subscribers: SummarySubscribers;
}

/** The summaries' capabilities of an opened store: in its database, or beside its JSON files. */
export function summaryStoresFor(store: Store, config: Pick<StoreConfig, 'dataDir'>): SummaryStores {
  if (store instanceof PostgresStore) {
    return {
      summaries: postgresDailySummaries(store.pool),
      emails: postgresSummaryEmailLog(store.pool),
      subscribers: postgresSummarySubscribers(store.pool),
    };
  }
  return {
    summaries: jsonDailySummaries(config.dataDir),
    emails: jsonSummaryEmailLog(config.dataDir),
    subscribers: jsonSummarySubscribers(config.dataDir),
  };
}
