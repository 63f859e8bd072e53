import { join } from 'node:path';
import type { CarbonConfig } from '../../config';
import type { Logger } from '../../log';
import { createCarbonIntensityApiSource } from './carbon-intensity-api';
import { createCsvIntensitySource } from './csv';
import { fileIntensityCache } from './intensity-cache';
import { staticIntensity, type CarbonIntensitySource } from './source';

export { createCarbonIntensityApiSource } from './carbon-intensity-api';
export { createCsvIntensitySource } from './csv';
export { fileIntensityCache, type IntensityCache } from './intensity-cache';
export { staticIntensity, type CarbonIntensitySource } from './source';

export interface CarbonSourceDeps {
  /** The API source caches settled hours under `<dataDir>/carbon`. */
  dataDir: string;
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
        cache: fileIntensityCache(join(deps.dataDir, 'carbon'), deps.log),
      });
    case 'csv':
      return createCsvIntensitySource(carbon, { log: deps.log });
  }
}
