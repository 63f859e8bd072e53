import { useQuery } from '@apollo/client/react';

import { formatFigure } from '../format';
import { SUMMARIES } from '../queries';
import { Panel } from './Panel';

/** Days shown at most, newest first: a summary is a day's note, not a long series. */
const SHOWN = 31;

/** The selected user's daily summaries over the range: what the daily email says, day by day. */
export function Summaries({ user, from, to }: { user: string; from: string; to: string }) {
  const { data, error, loading } = useQuery(SUMMARIES, { variables: { user, from, to } });
  const days = [...(data?.dailySummaries ?? [])].sort((a, b) => b.date.localeCompare(a.date));
  return (
    <Panel id="summaries" title={`Daily summaries of ${user}`} loading={loading && !data} error={error} wide>
      {days.length === 0 ? (
        <p class="empty">No day of this range has been summarised for this user.</p>
      ) : (
        <div class="table-scroll">
          <table class="figures">
            <caption class="visually-hidden">The user's usage per UTC day, newest first</caption>
            <thead>
              <tr>
                <th scope="col">Day</th>
                <th scope="col" class="num">
                  VM minutes
                </th>
                <th scope="col" class="num">
                  RAM GB-minutes
                </th>
                <th scope="col" class="num">
                  Disk GB-minutes
                </th>
                <th scope="col" class="num">
                  kWh
                </th>
                <th scope="col" class="num">
                  gCO₂eq
                </th>
                <th scope="col">Complete</th>
              </tr>
            </thead>
            <tbody>
              {days.slice(0, SHOWN).map((day) => (
                <tr key={day.id} data-date={day.date}>
                  <th scope="row">{day.date.slice(0, 10)}</th>
                  <td class="num">{formatFigure(day.vmMinutes)}</td>
                  <td class="num">{formatFigure(day.ramGbMinutes)}</td>
                  <td class="num">{formatFigure(day.diskGbMinutes)}</td>
                  <td class="num" data-value={day.usage.totalKwh}>
                    {formatFigure(day.usage.totalKwh)}
                  </td>
                  <td class="num">{formatFigure(day.usage.totalGco2eq)}</td>
                  <td>{day.complete ? 'yes' : 'no: some hours failed'}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </Panel>
  );
}
