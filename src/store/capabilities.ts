import type { StoreConfig } from '../config';
import type { DeliveryLog } from './deliveries';
import type { HostHistoryStore } from './host-history';
import { jsonDeliveryLog } from './json/deliveries';
import { jsonHostHistory } from './json/host-history';
import { jsonProjectUsers } from './json/project-users';
import type { ProjectUserFigures } from './project-users';

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
