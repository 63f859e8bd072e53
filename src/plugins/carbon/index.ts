import type { CarbonConfig } from '../../config';
import type { Logger } from '../../log';
import { createCarbonIntensityApiSource } from './carbon-intensity-api';
import { createCsvIntensitySource } from './csv';
import type { IntensityCache } from '../../domain/intensity-cache';
import type { CarbonIntensitySource } from '../../ingest/ports';
import { staticIntensity } from './source';

export { createCarbonIntensityApiSource } from './carbon-intensity-api';
export { createCsvIntensitySource } from './csv';
export { staticIntensity } from './source';
export type { CarbonIntensitySource } from '../../ingest/ports';

export interface CarbonSourceDeps {
  /** Where the API source keeps settled hours (the store's); none: asked every time. */
  cache?: IntensityCache;
  log: Logger;
  fetch?: typeof fetch;
}

/** The configured carbon intensity source. A CSV source reads (and validates) its file here. */
export function createCarbonSource(carbon: CarbonConfig, deps: CarbonSourceDeps): CarbonIntensitySource {
  switch (carbon.source) {
    case 'static':
      return staticIntensity(carbon.gPerKwh);
    case 'carbon-intensity-api':
      return createCarbonIntensityApiSource(carbon, {
        fetch: deps.fetch,
        log: deps.log,
        cache: deps.cache,
      });
    case 'csv':
      return createCsvIntensitySource(carbon, { log: deps.log });
  }
}
