import { useQuery } from '@apollo/client/react';

import { formatFigure } from '../format';
import { TOP_KEYS, type SeriesVariables } from '../queries';
import { LEVEL_LABELS, type Level } from '../range';
import { Panel } from './Panel';
import { ShareBar } from './MachineSplit';

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
  const all = ranked.reduce((sum, series) => sum + series.total.totalKwh, 0);
  const level = LEVEL_LABELS[variables.level as Level].toLowerCase();
  return (
    <Panel id="top-keys" title={`Top ${level}s`} loading={loading && !data} error={error}>
      {ranked.length === 0 ? (
        <p class="empty">No {level}s to rank.</p>
      ) : (
        <table class="figures">
          <caption class="visually-hidden">
            The {Math.min(SHOWN, ranked.length)} {level}s with the most CPU energy over the range
            {(keys?.length ?? 0) > MAX_KEYS ? `, among the first ${MAX_KEYS}` : ''}
          </caption>
          <thead>
            <tr>
              <th scope="col">{LEVEL_LABELS[variables.level as Level]}</th>
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
            {ranked.slice(0, SHOWN).map((series) => (
              <tr key={series.id} aria-current={series.key === selected ? 'true' : undefined}>
                <th scope="row">
                  <button type="button" class="link" onClick={() => onSelect(series.key)}>
                    {series.key}
                  </button>
                </th>
                <td class="num" data-value={series.total.totalKwh}>
                  {formatFigure(series.total.totalKwh)}
                </td>
                <td class="num" data-value={series.total.totalGco2eq}>
                  {formatFigure(series.total.totalGco2eq)}
                </td>
                <td>
                  <ShareBar share={all > 0 ? series.total.totalKwh / all : 0} />
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </Panel>
  );
}
