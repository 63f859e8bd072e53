import { useQuery } from '@apollo/client/react';

import { SERIES, type SeriesVariables } from '../queries';
import { Heatmap } from './Heatmap';
import { Panel } from './Panel';

/** The hour-of-day × day map of the range's hours (its last 366 days at most). */
export function HourOfDay({ variables }: { variables: Omit<SeriesVariables, 'granularity'> }) {
  // The same query as the usage chart's when that one is hourly: Apollo answers both from one request.
  const { data, error, loading } = useQuery(SERIES, { variables: { ...variables, granularity: 'HOUR' } });
  return (
    <Panel id="heatmap" title="Energy by hour of day (UTC)" loading={loading && !data} error={error} wide>
      {data && <Heatmap columns={data.usageSeries.columns} />}
    </Panel>
  );
}
