import type { Clock } from '../domain/clock';
import type { Logger } from '../log';
import { type ActiveWorkspaceSource, noActiveWorkspaces } from '../services/active-workspaces';
import { createUsageReader, type UsageReader } from '../services/usage-reader';
import type { Store } from '../store/store';

/** What every resolver receives. Built per request: its reader's loaders cache for that request only. */
export interface AppContext {
  reader: UsageReader;
  clock: Clock;
  log: Logger;
  activeWorkspaces: ActiveWorkspaceSource;
}

export interface RequestContextDeps {
  store: Store;
  clock: Clock;
  log: Logger;
  /** Until the active-workspace poller exists, `activeWorkspaces` answers []. */
  activeWorkspaces?: ActiveWorkspaceSource;
}

export function createRequestContext(deps: RequestContextDeps): AppContext {
  return {
    reader: createUsageReader(deps.store),
    clock: deps.clock,
    log: deps.log,
    activeWorkspaces: deps.activeWorkspaces ?? noActiveWorkspaces,
  };
}
