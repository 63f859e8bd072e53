import { useQuery } from '@apollo/client/react';
import { useMemo } from 'preact/hooks';

import { formatBucket, formatFigure } from '../format';
import { RESOURCES, SERIES, type Figures, type ResourceFigures, type SeriesVariables } from '../queries';
import { shownSeries, toCsv, type ShownSeries } from '../shown';
import { Panel } from './Panel';
import { TimeChart } from './TimeChart';

interface Props {
  variables: SeriesVariables;
  /** The API has resource figures (contract section 8). */
  withResources: boolean;
}

/** Energy and carbon of the selected key over time, stacked by part, with its totals and a CSV. */
export function Usage({ variables, withResources }: Props) {
  const series = useQuery(SERIES, { variables });
  const resources = useQuery(RESOURCES, { variables, skip: !withResources });
  const data = series.data?.usageSeries;
  const shown = useMemo(
    () => data && shownSeries(variables.granularity, data.columns, resources.data?.usageSeries),
    [data, resources.data, variables.granularity],
  );
  const download = shown && (
    <button type="button" class="button" onClick={() => downloadCsv(shown, variables)}>
      Download CSV
    </button>
  );
  return (
    <Panel
      id="usage"
      title="Energy and carbon over time"
      loading={series.loading && !data}
      error={series.error}
      actions={download}
      wide
    >
      {data && shown && (
        <>
          <Totals total={data.total} resources={resources.data?.usageSeries.resourcesTotal} shown={shown} />
          <Gaps shown={shown} />
          <h3 class="chart-title">Energy (kWh)</h3>
          <TimeChart
            shown={shown}
            figures={shown.energy}
            unit="kWh"
            title="Energy over time, stacked by part"
          />
          <h3 class="chart-title">Carbon (gCO₂eq)</h3>
          <TimeChart
            shown={shown}
            figures={shown.carbon}
            unit="gCO₂eq"
            title="Carbon over time, stacked by part"
          />
          {withResources && resources.error ? (
            <p class="notice notice-warning" role="status">
              Resource figures could not be read: the charts show CPU only.
            </p>
          ) : null}
        </>
      )}
    </Panel>
  );
}

interface TotalsProps {
  total: Figures;
  resources: ResourceFigures | undefined;
  shown: ShownSeries;
}

function Totals({ total, resources, shown }: TotalsProps) {
  const failedBuckets = shown.status.filter((status) => status === 'FAILED').length;
  const failedHours = shown.failedHours.reduce((sum, hours) => sum + hours, 0);
  const busyShare = total.totalKwh > 0 ? total.busyKwh / total.totalKwh : 0;
  return (
    <dl class="totals">
      <div>
        <dt>CPU energy</dt>
        <dd data-total="totalKwh" data-value={total.totalKwh}>
          {formatFigure(total.totalKwh)} <span class="unit">kWh</span>
        </dd>
      </div>
      <div>
        <dt>CPU carbon</dt>
        <dd data-total="totalGco2eq" data-value={total.totalGco2eq}>
          {formatFigure(total.totalGco2eq)} <span class="unit">gCO₂eq</span>
        </dd>
      </div>
      <div>
        <dt>Busy share</dt>
        <dd data-total="busyShare" data-value={busyShare}>
          {formatFigure(busyShare * 100)} <span class="unit">%</span>
        </dd>
      </div>
      {resources && (
        <>
          <div>
            <dt>Memory, storage, network</dt>
            <dd
              data-total="resourcesKwh"
              data-value={resources.memoryKwh + resources.storageKwh + resources.networkKwh}
            >
              {formatFigure(resources.memoryKwh + resources.storageKwh + resources.networkKwh)}{' '}
              <span class="unit">kWh</span>
            </dd>
          </div>
          <div>
            <dt>Embodied carbon (apart)</dt>
            <dd data-total="embodiedGco2eq" data-value={resources.embodiedGco2eq}>
              {formatFigure(resources.embodiedGco2eq)} <span class="unit">gCO₂eq</span>
            </dd>
          </div>
        </>
      )}
      <div class={failedHours > 0 ? 'total-failed' : undefined}>
        <dt>Failed hours</dt>
        <dd data-total="failedHours" data-value={failedHours}>
          {failedHours}
          {failedBuckets > 0 ? (
            <span class="unit">
              {' '}
              in {failedBuckets} failed bucket{failedBuckets === 1 ? '' : 's'}
            </span>
          ) : null}
        </dd>
      </div>
    </dl>
  );
}

/** Buckets drawn as gaps, listed so they are read, not only seen. */
function Gaps({ shown }: { shown: ShownSeries }) {
  const failed = shown.startIsos.filter((_, i) => shown.status[i] === 'FAILED');
  const partial = shown.startIsos.filter((_, i) => shown.status[i] === 'PARTIAL');
  if (failed.length === 0 && partial.length === 0) return null;
  const list = (isos: string[]) =>
    isos.length > 6
      ? `${isos
          .slice(0, 6)
          .map((iso) => formatBucket(iso, shown.granularity))
          .join(', ')} and ${isos.length - 6} more`
      : isos.map((iso) => formatBucket(iso, shown.granularity)).join(', ');
  return (
    <div class="gaps" role="status">
      {failed.length > 0 && (
        <p class="gap-failed" data-failed-buckets={failed.join(' ')}>
          <span class="mark mark-failed" aria-hidden="true" /> <strong>Failed</strong> (not ingested, drawn as
          a gap, not zero): {list(failed)}
        </p>
      )}
      {partial.length > 0 && (
        <p class="gap-partial">
          <span class="mark mark-partial" aria-hidden="true" /> <strong>Partial</strong> (some hours failed or
          not ingested yet): {list(partial)}
        </p>
      )}
    </div>
  );
}

function downloadCsv(shown: ShownSeries, variables: SeriesVariables): void {
  const blob = new Blob([toCsv(shown)], { type: 'text/csv;charset=utf-8' });
  const link = document.createElement('a');
  link.href = URL.createObjectURL(blob);
  const name = [
    variables.level.toLowerCase(),
    variables.key,
    variables.from.slice(0, 10),
    variables.to.slice(0, 10),
  ];
  link.download = `carbonledger-${name.join('-').replace(/[^\w.-]+/g, '_')}-${variables.granularity.toLowerCase()}.csv`;
  link.click();
  setTimeout(() => URL.revokeObjectURL(link.href), 0);
}
