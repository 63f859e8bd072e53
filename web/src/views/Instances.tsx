import { useQuery } from '@apollo/client/react';

import { formatFigure, formatInstant } from '../format';
import { INSTANCES, type InstanceRecord } from '../queries';
import type { Level } from '../range';
import { Panel } from './Panel';

/** Rows beyond this are counted, not drawn: a year of a large fleet is thousands. */
const SHOWN = 100;

interface Props {
  level: Level;
  selectedKey: string;
  from: string;
  to: string;
}

/** Which instances of the selected project or user ran over the range, where, and what each cost. */
export function Instances({ level, selectedKey, from, to }: Props) {
  const filter =
    level === 'PROJECT' ? { project: selectedKey } : level === 'USER' ? { user: selectedKey } : {};
  const { data, error, loading } = useQuery(INSTANCES, { variables: { ...filter, from, to } });
  const all = data?.instances ?? [];
  const records =
    level === 'INSTANCE'
      ? all.filter((record) => record.instance === selectedKey)
      : level === 'MACHINE'
        ? all.filter((record) => record.machineName === selectedKey)
        : all;
  const ranked = [...records].sort((a, b) => b.usage.totalKwh - a.usage.totalKwh);
  return (
    <Panel id="instances" title="Instances" loading={loading && !data} error={error} wide>
      {ranked.length === 0 ? (
        <p class="empty">No instance was up over this range.</p>
      ) : (
        <div class="table-scroll">
          <table class="figures">
            <caption class="visually-hidden">
              Instances up over the range, most energy first, with their hosts and figures over the range
            </caption>
            <thead>
              <tr>
                <th scope="col">Instance</th>
                <th scope="col">Project</th>
                <th scope="col">User</th>
                <th scope="col">Machine type</th>
                <th scope="col">First seen</th>
                <th scope="col">Last seen</th>
                <th scope="col">Hosts</th>
                <th scope="col" class="num">
                  kWh
                </th>
                <th scope="col" class="num">
                  gCO₂eq
                </th>
              </tr>
            </thead>
            <tbody>
              {ranked.slice(0, SHOWN).map((record) => (
                <InstanceRow key={record.id} record={record} />
              ))}
            </tbody>
          </table>
          {ranked.length > SHOWN ? (
            <p class="muted">
              The {SHOWN} that used the most energy of {ranked.length} instances.
            </p>
          ) : null}
        </div>
      )}
    </Panel>
  );
}

function InstanceRow({ record }: { record: InstanceRecord }) {
  return (
    <tr data-instance={record.instance}>
      <th scope="row">{record.instance}</th>
      <td>{record.project}</td>
      <td>{record.user ?? '—'}</td>
      <td>{record.machineName}</td>
      <td>{formatInstant(record.firstSeen)}</td>
      <td>
        {formatInstant(record.lastSeen)}
        {record.ended ? ' (ended)' : ''}
      </td>
      <td>
        {record.hosts
          .map((period) => (period.reason ? `${period.host} (${period.reason})` : period.host))
          .join(', ')}
      </td>
      <td class="num" data-value={record.usage.totalKwh}>
        {formatFigure(record.usage.totalKwh)}
      </td>
      <td class="num" data-value={record.usage.totalGco2eq}>
        {formatFigure(record.usage.totalGco2eq)}
      </td>
    </tr>
  );
}
