import type { ComponentChildren } from 'preact';

import { formatFigure, formatPercent } from '../format';

export interface EnergyRow {
  id: string;
  /** The row's header cell: a name, or a button that opens it. */
  label: ComponentChildren;
  kwh: number;
  gco2eq: number;
  current?: boolean;
}

interface Props {
  caption: string;
  heading: string;
  rows: EnergyRow[];
  /** What a share is of; the rows' sum when not given. */
  totalKwh?: number;
}

/** Rows of CPU energy and carbon with each row's share of the energy, as the API gave them. */
export function EnergyTable({ caption, heading, rows, totalKwh }: Props) {
  const all = totalKwh ?? rows.reduce((sum, row) => sum + row.kwh, 0);
  return (
    <table class="figures">
      <caption class="visually-hidden">{caption}</caption>
      <thead>
        <tr>
          <th scope="col">{heading}</th>
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
        {rows.map((row) => (
          <tr key={row.id} aria-current={row.current ? 'true' : undefined}>
            <th scope="row">{row.label}</th>
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
  );
}

function ShareBar({ share }: { share: number }) {
  return (
    <span class="share">
      <span class="share-track" aria-hidden="true">
        <span class="share-fill" style={{ width: `${(share * 100).toFixed(1)}%` }} />
      </span>
      <span class="share-text">{formatPercent(share)}</span>
    </span>
  );
}
