import { useQuery } from '@apollo/client/react';

import { formatFigure, formatInstant } from '../format';
import { WORKSPACES } from '../queries';
import type { Level } from '../range';
import { Panel } from './Panel';

/** The running instances of the selected project, user or machine type (all of them otherwise). */
export function Workspaces({ level, selectedKey }: { level: Level; selectedKey: string }) {
  const filter = !selectedKey
    ? {}
    : level === 'PROJECT'
      ? { project: selectedKey }
      : level === 'USER'
        ? { user: selectedKey }
        : level === 'MACHINE'
          ? { machineName: selectedKey }
          : {};
  const { data, error, loading } = useQuery(WORKSPACES, { variables: filter, pollInterval: 60_000 });
  const status = data?.activeWorkspacesStatus;
  const workspaces = data?.activeWorkspaces ?? [];
  return (
    <Panel id="workspaces" title="Active workspaces" loading={loading && !data} error={error} wide>
      {status?.stale ? (
        <p class="notice notice-warning" role="status" data-stale="true">
          {status.takenAt
            ? `This list may be out of date: the last poll of Prometheus failed; it was taken ${formatInstant(status.takenAt)}.`
            : 'Unknown: Prometheus has not been polled successfully yet, so an empty list does not mean nothing runs.'}
        </p>
      ) : status?.takenAt ? (
        <p class="muted">As of {formatInstant(status.takenAt)}.</p>
      ) : null}
      {workspaces.length === 0 ? (
        <p class="empty">No running workspaces listed.</p>
      ) : (
        <div class="table-scroll">
          <table class="figures">
            <caption class="visually-hidden">Running instances and their usage since they started</caption>
            <thead>
              <tr>
                <th scope="col">Instance</th>
                <th scope="col">Project</th>
                <th scope="col">User</th>
                <th scope="col">Machine type</th>
                <th scope="col">Started</th>
                <th scope="col" class="num">
                  kWh
                </th>
                <th scope="col" class="num">
                  gCO₂eq
                </th>
              </tr>
            </thead>
            <tbody>
              {workspaces.map((workspace) => (
                <tr key={workspace.id}>
                  <th scope="row">{workspace.instance}</th>
                  <td>{workspace.project}</td>
                  <td>{workspace.user ?? '—'}</td>
                  <td>{workspace.machineName}</td>
                  <td>{formatInstant(workspace.startedAt)}</td>
                  <td class="num">{formatFigure(workspace.busyKwh + workspace.idleKwh)}</td>
                  <td class="num">{formatFigure(workspace.busyGco2eq + workspace.idleGco2eq)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </Panel>
  );
}
