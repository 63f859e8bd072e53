import { type Access, accessFor } from '../auth/access';
import { ANONYMOUS, type Principal } from '../auth/principal';
import { noInstanceProjects, type ScopeIndex } from '../auth/scope-index';
import type { Clock } from '../domain/clock';
import type { Logger } from '../log';
import { abortable } from '../services/abortable';
import { type ActiveWorkspaceSource, noActiveWorkspaces } from '../services/active-workspaces';
import { createUsageReader, type UsageReader } from '../services/usage-reader';
import type { HostHistoryStore } from '../store/host-history';
import type { InstanceIndex } from '../store/instance-index';
import type { Store } from '../store/store';
import type { DailySummaryStore, SummarySubscribers } from '../store/summaries';

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
  /** The store's daily summaries, its reads cut off at the request's deadline. */
  summaries: Pick<DailySummaryStore, 'read'>;
  /** Who the principal is, for what a user sets for themself (setSummaryEmail). */
  principal: Principal;
  /** The users who listed themselves for summary emails. */
  subscribers: Pick<SummarySubscribers, 'set'>;
  /** What sources said of instances' hosts (OpenNebula's registers and their reasons). */
  hostHistory: Pick<HostHistoryStore, 'read'>;
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
  /** Instances' host history from the sources; without it no period has a reason. */
  hostHistory?: Pick<HostHistoryStore, 'read'>;
  /** The store's summaries and self-listed users; without them none are kept or answered. */
  summaries?: { summaries: Pick<DailySummaryStore, 'read'>; subscribers: Pick<SummarySubscribers, 'set'> };
}

const noHostHistory: Pick<HostHistoryStore, 'read'> = { read: async () => new Map() };

const noSummaries: NonNullable<RequestContextDeps['summaries']> = {
  summaries: { read: async () => [] },
  subscribers: {
    set: async () => {
      throw new Error('this service keeps no summary subscribers');
    },
  },
};

export function createRequestContext(deps: RequestContextDeps): AppContext {
  const guard = abortable(deps.signal);
  const workspaces = deps.activeWorkspaces ?? noActiveWorkspaces;
  const scopeIndex = deps.scopeIndex ?? noInstanceProjects;
  const summaryStores = deps.summaries ?? noSummaries;
  const { summaries } = summaryStores;
  return {
    reader: createUsageReader(deps.store, deps.signal),
    instances: { list: (from, to) => guard(() => deps.store.instances.list(from, to)) },
    clock: deps.clock,
    log: deps.log,
    activeWorkspaces: { list: () => guard(() => workspaces.list()), status: () => workspaces.status() },
    access: accessFor(deps.principal ?? ANONYMOUS, { read: () => guard(() => scopeIndex.read()) }),
    summaries: { read: (user, from, to) => guard(() => summaries.read(user, from, to)) },
    principal: deps.principal ?? ANONYMOUS,
    subscribers: summaryStores.subscribers,
    hostHistory: {
      read: (instances) => guard(() => (deps.hostHistory ?? noHostHistory).read(instances)),
    },
  };
}
