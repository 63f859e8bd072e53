import type { Figures } from '../domain/figures';
import { presented } from './precision';
import {
  AVERAGED_METRICS,
  ENERGY_METRICS,
  RESOURCE_NAMES,
  type AverageName,
  type ResourceName,
} from '../domain/metrics';

/**
 * The resource figures of a bucket or a series (contract section 8): every resource figure of the
 * catalogue, each averaged one's average over `upHours`, and the operational sums of every energy
 * figure (CPU included) and of its carbon.
 */
export type ResourceFiguresView = Record<ResourceName | AverageName, number> & {
  operationalKwh: number;
  operationalGco2eq: number;
};

export function resourcesView(figures: Figures): ResourceFiguresView {
  const view = {} as ResourceFiguresView;
  for (const name of RESOURCE_NAMES) view[name] = presented(figures[name]);
  for (const metric of AVERAGED_METRICS) {
    view[metric.average] = figures.upHours === 0 ? 0 : presented(figures[metric.name] / figures.upHours);
  }
  let kwh = 0;
  let gco2eq = 0;
  for (const metric of ENERGY_METRICS) {
    kwh += figures[metric.name];
    gco2eq += figures[metric.carbon];
  }
  view.operationalKwh = presented(kwh);
  view.operationalGco2eq = presented(gco2eq);
  return view;
}
