import { UNKNOWN } from '../domain/levels';
import { machineKey } from '../domain/machine-key';
import { activeWorkspaceId } from './ids';
import { presented } from './precision';

/** A running instance and its usage since it booted, as the active-workspace poller sees it. */
export interface ActiveWorkspaceRecord {
  instance: string;
  host: string;
  /** Machine type as labelled. */
  machineName: string;
  project: string;
  user: string | null;
  experiment: string | null;
  /** node_boot_time_seconds, as epoch ms. */
  startedAt: number;
  busyKwh: number;
  idleKwh: number;
  busyGco2eq: number;
  idleGco2eq: number;
}

export interface ActiveWorkspaceView extends ActiveWorkspaceRecord {
  id: string;
}

/** How current the listed workspaces are. */
export interface ActiveWorkspacesStatus {
  /** Epoch ms of the snapshot listed; null before any poll of Prometheus succeeded. */
  takenAt: number | null;
  lastPollFailed: boolean;
  /**
   * The list may not be what runs now: no poll has succeeded, or the last failed and the snapshot
   * listed is over five minutes old. An empty list is then "unknown", not "nothing runs".
   */
  stale: boolean;
}

/** Where active workspaces come from: the poller's latest snapshot, once it exists. */
export interface ActiveWorkspaceSource {
  list(): Promise<readonly ActiveWorkspaceRecord[]>;
  /** Of the snapshot `list()` answers from. */
  status(): ActiveWorkspacesStatus;
}

export const noActiveWorkspaces: ActiveWorkspaceSource = {
  list: async () => [],
  status: () => ({ takenAt: null, lastPollFailed: false, stale: true }),
};

export interface ActiveWorkspaceFilter {
  project: string | null;
  user: string | null;
  /** Matches the machine type as labelled or its machine key. */
  machineName: string | null;
}

/**
 * The workspaces matching every filter given, by instance. A workspace with no owner (`user` null)
 * is the USER level's `unknown`, and that key finds it, as `instances(user: "unknown")` does.
 */
export async function readActiveWorkspaces(
  source: ActiveWorkspaceSource,
  filter: ActiveWorkspaceFilter,
): Promise<ActiveWorkspaceView[]> {
  const wantedMachine = filter.machineName === null ? null : machineKey(filter.machineName);
  return (await source.list())
    .filter(
      (workspace) =>
        (filter.project === null || workspace.project === filter.project) &&
        (filter.user === null || (workspace.user ?? UNKNOWN) === filter.user) &&
        (wantedMachine === null || machineKey(workspace.machineName) === wantedMachine),
    )
    .map((workspace) => ({
      ...workspace,
      id: activeWorkspaceId(workspace.instance, workspace.startedAt),
      busyKwh: presented(workspace.busyKwh),
      idleKwh: presented(workspace.idleKwh),
      busyGco2eq: presented(workspace.busyGco2eq),
      idleGco2eq: presented(workspace.idleGco2eq),
    }))
    .sort(byInstanceThenStart);
}

function byInstanceThenStart(a: ActiveWorkspaceView, b: ActiveWorkspaceView): number {
  if (a.instance !== b.instance) return a.instance < b.instance ? -1 : 1;
  return a.startedAt - b.startedAt;
}
