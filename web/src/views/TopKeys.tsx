import { useQuery } from '@apollo/client/react';

import { TOP_KEYS, type SeriesVariables } from '../queries';
import { LEVEL_LABELS, type Level } from '../range';
import { Panel } from './Panel';
import { EnergyTable } from './EnergyTable';

/** The API's limit on keys in one usageSeriesMany. */
const MAX_KEYS = 200;
const SHOWN = 10;

interface Props {
  variables: Omit<SeriesVariables, 'granularity' | 'key'>;
  keys: readonly string[] | undefined;
  selected: string;
  onSelect(key: string): void;
}

/** The keys of the level that used the most energy over the range; a key opens its series. */
export function TopKeys({ variables, keys, selected, onSelect }: Props) {
  const asked = (keys ?? []).slice(0, MAX_KEYS);
  const { data, error, loading } = useQuery(TOP_KEYS, {
    variables: { ...variables, keys: asked, granularity: 'YEAR' },
    skip: asked.length === 0,
  });
  const ranked = [...(data?.usageSeriesMany ?? [])].sort((a, b) => b.total.totalKwh - a.total.totalKwh);
  const level = LEVEL_LABELS[variables.level as Level].toLowerCase();
  return (
    <Panel id="top-keys" title={`Top ${level}s`} loading={loading && !data} error={error}>
      {ranked.length === 0 ? (
        <p class="empty">No {level}s to rank.</p>
      ) : (
        <EnergyTable
          caption={
            `The ${Math.min(SHOWN, ranked.length)} ${level}s with the most CPU energy over the range` +
            ((keys?.length ?? 0) > MAX_KEYS ? `, among the first ${MAX_KEYS}` : '')
          }
          heading={LEVEL_LABELS[variables.level as Level]}
          totalKwh={ranked.reduce((sum, series) => sum + series.total.totalKwh, 0)}
          rows={ranked.slice(0, SHOWN).map((series) => ({
            id: series.id,
            label: (
              <button type="button" class="link" onClick={() => onSelect(series.key)}>
                {series.key}
              </button>
            ),
            kwh: series.total.totalKwh,
            gco2eq: series.total.totalGco2eq,
            current: series.key === selected,
          }))}
        />
      )}
    </Panel>
  );
}
