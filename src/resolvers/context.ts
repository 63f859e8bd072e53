import { type Access, accessFor } from '../auth/access';
import { ANONYMOUS, type Principal } from '../auth/principal';
import { noInstanceProjects, type ScopeIndex } from '../auth/scope-index';
import type { Clock } from '../domain/clock';
import type { Logger } from '../log';
import { abortable } from '../services/abortable';
import { type ActiveWorkspaceSource, noActiveWorkspaces } from '../services/active-workspaces';
import { createUsageReader, type UsageReader } from '../services/usage-reader';
import type { InstanceIndex } from '../store/instance-index';
import type { Store } from '../store/store';

/** What every resolver receives. Built per request: its reader's loaders cache for that request only. */
export interface AppContext {
  reader: UsageReader;
  /** The store's instance index, its reads cut off at the request's deadline. */
  instances: Pick<InstanceIndex, 'list'>;
  clock: Clock;
  log: Logger;
  activeWorkspaces: ActiveWorkspaceSource;
  /** What this request's principal may read; resolvers ask it before reading. */
  access: Access;
}

export interface RequestContextDeps {
  store: Store;
  clock: Clock;
  log: Logger;
  /** Until the active-workspace poller exists, `activeWorkspaces` answers []. */
  activeWorkspaces?: ActiveWorkspaceSource;
  /** Who is asking, as the server authenticated it. Default: anonymous, which sees everything (an open API). */
  principal?: Principal;
  /** Instance → projects, for scoping INSTANCE series. Default: knows none, so scoped tokens see no instance. */
  scopeIndex?: ScopeIndex;
  /** The request's execution deadline: once it aborts, reads reject with its reason instead of hanging. */
  signal?: AbortSignal;
}

export function createRequestContext(deps: RequestContextDeps): AppContext {
  const guard = abortable(deps.signal);
  const workspaces = deps.activeWorkspaces ?? noActiveWorkspaces;
  const scopeIndex = deps.scopeIndex ?? noInstanceProjects;
  return {
    reader: createUsageReader(deps.store, deps.signal),
    instances: { list: (from, to) => guard(() => deps.store.instances.list(from, to)) },
    clock: deps.clock,
    log: deps.log,
    activeWorkspaces: { list: () => guard(() => workspaces.list()), status: () => workspaces.status() },
    access: accessFor(deps.principal ?? ANONYMOUS, { read: () => guard(() => scopeIndex.read()) }),
  };
}
