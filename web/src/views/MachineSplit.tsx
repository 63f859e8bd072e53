import { useQuery } from '@apollo/client/react';

import { MACHINES, type SeriesVariables } from '../queries';
import { EnergyTable } from './EnergyTable';
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
  const rows = [...totals]
    .map(([machine, sum]) => ({ id: machine, label: machine, ...sum }))
    .sort((a, b) => b.kwh - a.kwh);
  return (
    <Panel id="machines" title="By machine type" loading={loading && !data} error={error}>
      {rows.length === 0 ? (
        <p class="empty">No usage in this range.</p>
      ) : (
        <EnergyTable
          caption="CPU energy and carbon by machine type over the range"
          heading="Machine type"
          rows={rows}
        />
      )}
    </Panel>
  );
}
