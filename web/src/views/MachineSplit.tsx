import { useQuery } from '@apollo/client/react';

import { formatFigure, formatPercent } from '../format';
import { MACHINES, type SeriesVariables } from '../queries';
import { Panel } from './Panel';

/** Energy and carbon by machine type over the whole range (one YEAR bucket or two, summed). */
export function MachineSplit({ variables }: { variables: Omit<SeriesVariables, 'granularity'> }) {
  const { data, error, loading } = useQuery(MACHINES, { variables: { ...variables, granularity: 'YEAR' } });
  const totals = new Map<string, { kwh: number; gco2eq: number }>();
  for (const bucket of data?.usageSeries.buckets ?? []) {
    for (const { machineName, usage } of bucket.byMachine) {
      const sum = totals.get(machineName) ?? { kwh: 0, gco2eq: 0 };
      sum.kwh += usage.totalKwh;
      sum.gco2eq += usage.totalGco2eq;
      totals.set(machineName, sum);
    }
  }
  const rows = [...totals].sort((a, b) => b[1].kwh - a[1].kwh);
  const all = rows.reduce((sum, [, row]) => sum + row.kwh, 0);
  return (
    <Panel id="machines" title="By machine type" loading={loading && !data} error={error}>
      {rows.length === 0 ? (
        <p class="empty">No usage in this range.</p>
      ) : (
        <table class="figures">
          <caption class="visually-hidden">CPU energy and carbon by machine type over the range</caption>
          <thead>
            <tr>
              <th scope="col">Machine type</th>
              <th scope="col" class="num">
                kWh
              </th>
              <th scope="col" class="num">
                gCO₂eq
              </th>
              <th scope="col">Share of energy</th>
            </tr>
          </thead>
          <tbody>
            {rows.map(([machine, row]) => (
              <tr key={machine}>
                <th scope="row">{machine}</th>
                <td class="num" data-value={row.kwh}>
                  {formatFigure(row.kwh)}
                </td>
                <td class="num" data-value={row.gco2eq}>
                  {formatFigure(row.gco2eq)}
                </td>
                <td>
                  <ShareBar share={all > 0 ? row.kwh / all : 0} />
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </Panel>
  );
}

export function ShareBar({ share }: { share: number }) {
  return (
    <span class="share">
      <span class="share-track" aria-hidden="true">
        <span class="share-fill" style={{ width: `${(share * 100).toFixed(1)}%` }} />
      </span>
      <span class="share-text">{formatPercent(share)}</span>
    </span>
  );
}
