import { promises as fsp } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CarbonSchema } from '../../../../src/config';
import { HOUR_MS } from '../../../../src/domain/time';
import { silentLogger } from '../../../../src/log';
import { createCarbonSource } from '../../../../src/plugins/carbon';
import { fileIntensityCache } from '../../../../src/store/json/intensity-cache';
import { startFakeCarbonIntensityApi } from './fake-carbon-intensity-api';

const T0 = Date.parse('2025-09-20T00:00Z');

describe('createCarbonSource', () => {
  let dataDir: string;
  beforeEach(async () => {
    dataDir = await fsp.mkdtemp(join(tmpdir(), 'carbon-data-'));
  });
  afterEach(() => fsp.rm(dataDir, { recursive: true, force: true }));

  it('static', async () => {
    const carbon = createCarbonSource(CarbonSchema.parse({ source: 'static', gPerKwh: 42 }), {
      log: silentLogger,
    });
    expect(await carbon.intensities(T0, T0 + HOUR_MS)).toEqual(
      new Map([[T0, { gPerKwh: 42, estimated: false, source: 'static' }]]),
    );
  });

  it('carbon-intensity-api, caching settled hours under <dataDir>/carbon', async () => {
    const api = await startFakeCarbonIntensityApi(() => ({ forecast: 1, actual: 180 }));
    try {
      const config = CarbonSchema.parse({ source: 'carbon-intensity-api', url: api.url });
      const first = createCarbonSource(config, {
        cache: fileIntensityCache(join(dataDir, 'carbon')),
        log: silentLogger,
      });
      expect(await first.intensities(T0, T0 + HOUR_MS)).toEqual(
        new Map([[T0, { gPerKwh: 180, estimated: false, source: 'carbon-intensity-api' }]]),
      );
      expect(await fsp.readdir(join(dataDir, 'carbon'))).toEqual(['2025-09.json']);

      const second = createCarbonSource(config, {
        cache: fileIntensityCache(join(dataDir, 'carbon')),
        log: silentLogger,
      });
      await second.intensities(T0, T0 + HOUR_MS);
      expect(api.paths).toHaveLength(1);
    } finally {
      await api.close();
    }
  });

  it('csv', async () => {
    const file = join(dataDir, 'grid.csv');
    await fsp.writeFile(file, 'time,gPerKwh\n2025-09-20T00:00Z,55\n');
    const carbon = createCarbonSource(CarbonSchema.parse({ source: 'csv', file }), {
      log: silentLogger,
    });
    expect(await carbon.intensities(T0, T0 + HOUR_MS)).toEqual(
      new Map([[T0, { gPerKwh: 55, estimated: false, source: 'csv' }]]),
    );
  });
});
