import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { DAY_MS, HOUR_MS } from '../../../../src/domain/time';
import type { HourIntensity } from '../../../../src/domain/usage';
import {
  createCarbonIntensityApiSource,
  type CarbonIntensityApiDeps,
} from '../../../../src/plugins/carbon/carbon-intensity-api';
import {
  memoryCache,
  periodsStartingAtFromThroughTo,
  recordingLogger,
  sendJson,
  startFakeCarbonIntensityApi,
  type FakeCarbonIntensityApi,
  type HalfHourValues,
} from './fake-carbon-intensity-api';

const T0 = Date.parse('2025-09-20T00:00Z');
const at = (hours: number) => T0 + hours * HOUR_MS;
const HALF = HOUR_MS / 2;

const real = (gPerKwh: number): HourIntensity => ({
  gPerKwh,
  estimated: false,
  source: 'carbon-intensity-api',
});
const fallback: HourIntensity = { gPerKwh: 200, estimated: true, source: 'carbon-intensity-api (fallback)' };

/** Half hour n (counted from T0) has actual 100 + n; anything else (the half hour before T0) 9999. */
const steadyValues: HalfHourValues = (start) =>
  start >= T0 ? { forecast: 1, actual: 100 + (start - T0) / HALF } : { forecast: 9999, actual: 9999 };

let api: FakeCarbonIntensityApi;
let values: HalfHourValues;

beforeEach(async () => {
  values = steadyValues;
  api = await startFakeCarbonIntensityApi((start) => values(start));
});
afterEach(() => api.close());

function source(deps: CarbonIntensityApiDeps = {}, timeoutMs = 2000) {
  return createCarbonIntensityApiSource({ url: api.url, fallbackGPerKwh: 200, timeoutMs }, deps);
}

describe('carbon-intensity-api source: hourly values', () => {
  it('averages the two half hours of each hour, matched by their own `from`', async () => {
    const fixture = readFileSync(
      join(__dirname, '../../../fixtures/carbon/intensity-2025-09-20T00-02.json'),
      'utf8',
    );
    api.answer = (_window, _req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(fixture);
    };

    const out = await source().intensities(at(0), at(2));

    expect(api.paths).toEqual(['/intensity/2025-09-20T00:00Z/2025-09-20T02:00Z']);
    // The answer starts with 23:30–00:00 (the API's `{from}` is the end of its first period): not ours.
    expect(out).toEqual(
      new Map([
        [at(0), real((140 + 131) / 2)],
        [at(1), real((122 + 113) / 2)],
      ]),
    );
  });

  it('uses actual, else forecast; one usable half hour alone, estimated; none → the fallback, estimated', async () => {
    const halves: Record<string, { forecast: number | null; actual: number | null }> = {
      '2025-09-20T00:00Z': { forecast: 999, actual: 100 },
      '2025-09-20T00:30Z': { forecast: 999, actual: 200 },
      '2025-09-20T01:00Z': { forecast: 300, actual: null },
      '2025-09-20T01:30Z': { forecast: 999, actual: 100 },
      '2025-09-20T02:00Z': { forecast: null, actual: null },
      '2025-09-20T02:30Z': { forecast: 999, actual: 180 },
      '2025-09-20T03:00Z': { forecast: null, actual: null },
      '2025-09-20T03:30Z': { forecast: null, actual: null },
    };
    values = (start) =>
      halves[new Date(start).toISOString().slice(0, 16) + 'Z'] ?? { forecast: 1, actual: 1 };
    const { log, warnings } = recordingLogger();

    const out = await source({ log }).intensities(at(0), at(4));

    expect(out).toEqual(
      new Map([
        [at(0), real(150)],
        [at(1), real(200)],
        // The mean of one half hour is not the hour's: estimated, so the reconcile asks again.
        [at(2), { ...real(180), estimated: true }],
        [at(3), fallback],
      ]),
    );
    expect(warnings).toEqual([
      {
        msg: 'carbon intensity API gave one half hour only for some hours; estimated from it',
        fields: { hours: ['2025-09-20T02:00Z'] },
      },
      {
        msg: 'carbon intensity API gave no value for some hours; using the fallback intensity',
        fields: { hours: ['2025-09-20T03:00Z'], fallbackGPerKwh: 200 },
      },
    ]);
  });

  it('gives the same hours when the API answers from the period starting at `from`, in any order', async () => {
    api.answer = ({ from, to }, _req, res) =>
      sendJson(res, { data: periodsStartingAtFromThroughTo(from, to, values).reverse() });

    const out = await source().intensities(at(0), at(3));

    expect(out).toEqual(
      new Map([
        [at(0), real(100.5)],
        [at(1), real(102.5)],
        [at(2), real(104.5)],
      ]),
    );
  });

  it('counts a period served twice once (the later one)', async () => {
    api.answer = (_window, _req, res) =>
      sendJson(res, {
        data: [
          {
            from: '2025-09-20T00:00Z',
            to: '2025-09-20T00:30Z',
            intensity: { forecast: 1, actual: 50, index: 'low' },
          },
          {
            from: '2025-09-20T00:00Z',
            to: '2025-09-20T00:30Z',
            intensity: { forecast: 1, actual: 70, index: 'low' },
          },
          {
            from: '2025-09-20T00:30Z',
            to: '2025-09-20T01:00Z',
            intensity: { forecast: 1, actual: 90, index: 'low' },
          },
        ],
      });

    expect(await source().intensities(at(0), at(1))).toEqual(new Map([[at(0), real(80)]]));
  });

  it('accepts a base URL with a trailing slash', async () => {
    await createCarbonIntensityApiSource({
      url: `${api.url}/`,
      fallbackGPerKwh: 200,
      timeoutMs: 2000,
    }).intensities(at(0), at(1));
    expect(api.paths).toEqual(['/intensity/2025-09-20T00:00Z/2025-09-20T01:00Z']);
  });

  it('asks nothing for an empty range', async () => {
    expect(await source().intensities(at(1), at(1))).toEqual(new Map());
    expect(api.paths).toEqual([]);
  });
});

describe('carbon-intensity-api source: 14-day windows', () => {
  it('splits a 30-day range into 14 + 14 + 2 days', async () => {
    const from = Date.parse('2025-09-01T00:00Z');
    const to = from + 30 * DAY_MS;

    const out = await source().intensities(from, to);

    expect(api.paths).toEqual([
      '/intensity/2025-09-01T00:00Z/2025-09-15T00:00Z',
      '/intensity/2025-09-15T00:00Z/2025-09-29T00:00Z',
      '/intensity/2025-09-29T00:00Z/2025-10-01T00:00Z',
    ]);
    expect(out.size).toBe(30 * 24);
    expect([...out.values()].every((intensity) => !intensity.estimated)).toBe(true);
  });

  it('asks one request for exactly 14 days', async () => {
    await source().intensities(at(0), at(14 * 24));
    expect(api.paths).toEqual(['/intensity/2025-09-20T00:00Z/2025-10-04T00:00Z']);
  });
});

describe('carbon-intensity-api source: failures fall back for their own window only', () => {
  it('HTTP 500 on the first window: its hours estimated, the second window real', async () => {
    const { log, warnings } = recordingLogger();
    api.answer = ({ from, to }, _req, res) => {
      if (from === at(0)) return sendJson(res, { error: { code: '500 Internal Server Error' } }, 500);
      return sendJson(res, { data: periodsStartingAtFromThroughTo(from, to, values) });
    };

    const out = await source({ log }).intensities(at(0), at(15 * 24));

    expect(api.paths).toEqual([
      '/intensity/2025-09-20T00:00Z/2025-10-04T00:00Z',
      '/intensity/2025-10-04T00:00Z/2025-10-05T00:00Z',
    ]);
    expect(out.size).toBe(15 * 24);
    expect(out.get(at(0))).toEqual(fallback);
    expect(out.get(at(14 * 24 - 1))).toEqual(fallback);
    const halfIndex = 14 * 24 * 2;
    expect(out.get(at(14 * 24))).toEqual(real(100 + halfIndex + 0.5));
    expect(out.get(at(15 * 24 - 1))).toEqual(real(100 + halfIndex + 2 * 23 + 0.5));
    expect(warnings).toEqual([
      {
        msg: 'carbon intensity API request failed; using the fallback intensity',
        fields: {
          from: '2025-09-20T00:00Z',
          to: '2025-10-04T00:00Z',
          reason: 'HTTP 500 Internal Server Error',
          fallbackGPerKwh: 200,
        },
      },
    ]);
  });

  it('an answer slower than timeoutMs', async () => {
    const { log, warnings } = recordingLogger();
    api.answer = (_window, _req, res) => {
      setTimeout(() => sendJson(res, { data: [] }), 500).unref();
    };

    const started = Date.now();
    const out = await source({ log }, 50).intensities(at(0), at(2));

    expect(Date.now() - started).toBeLessThan(450);
    expect(out).toEqual(
      new Map([
        [at(0), fallback],
        [at(1), fallback],
      ]),
    );
    expect(warnings[0].fields?.reason).toBe('no answer within 50 ms');
  });

  it('a body that is not JSON', async () => {
    const { log, warnings } = recordingLogger();
    api.answer = (_window, _req, res) => {
      res.writeHead(200, { 'content-type': 'text/html' });
      res.end('<html>maintenance</html>');
    };

    expect(await source({ log }).intensities(at(0), at(1))).toEqual(new Map([[at(0), fallback]]));
    expect(warnings[0].fields?.reason).toBe('the answer is not JSON: "<html>maintenance</html>"');
  });

  it.each([
    ['no data array', {}, 'unexpected answer: data: Invalid input: expected array, received undefined'],
    [
      'a period without intensity',
      { data: [{ from: '2025-09-20T00:00Z', to: '2025-09-20T00:30Z' }] },
      'unexpected answer: data.0.intensity: Invalid input: expected object, received undefined',
    ],
    [
      'a period starting off the half hour',
      { data: [{ from: '2025-09-20T00:10Z', intensity: { forecast: 1, actual: 1 } }] },
      'unexpected answer: data.0.from: expected the start of a half hour',
    ],
    [
      'a time that is not UTC',
      { data: [{ from: '2025-09-20 00:00', intensity: { forecast: 1, actual: 1 } }] },
      'unexpected answer: data.0.from: expected a UTC time like 2018-01-20T12:00Z',
    ],
    [
      'a negative intensity',
      { data: [{ from: '2025-09-20T00:00Z', intensity: { forecast: 1, actual: -3 } }] },
      'unexpected answer: data.0.intensity.actual: Too small: expected number to be >=0',
    ],
  ])('a body of the wrong shape: %s', async (_name, body, reason) => {
    const { log, warnings } = recordingLogger();
    api.answer = (_window, _req, res) => sendJson(res, body);

    expect(await source({ log }).intensities(at(0), at(1))).toEqual(new Map([[at(0), fallback]]));
    expect(warnings[0].fields?.reason).toBe(reason);
  });

  it('a refused connection', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const { log, warnings } = recordingLogger();

    const out = await createCarbonIntensityApiSource(
      { url: `http://127.0.0.1:${port}`, fallbackGPerKwh: 200, timeoutMs: 2000 },
      { log },
    ).intensities(at(0), at(1));

    expect(out).toEqual(new Map([[at(0), fallback]]));
    expect(warnings[0].fields?.reason).toMatch(/^fetch failed: connect ECONNREFUSED/);
  });

  it('rejects, without falling back, when the caller aborts', async () => {
    api.answer = (_window, _req, res) => {
      setTimeout(() => sendJson(res, { data: [] }), 500).unref();
    };
    const controller = new AbortController();
    setTimeout(() => controller.abort(new Error('shutting down')), 20);

    await expect(source().intensities(at(0), at(1), controller.signal)).rejects.toThrow('shutting down');
  });
});

describe('carbon-intensity-api source: cache', () => {
  it('asks nothing the second time for hours it cached', async () => {
    const cache = memoryCache();
    const first = await source({ cache }).intensities(at(0), at(3));
    expect(cache.entries).toEqual(first);

    const second = await source({ cache }).intensities(at(0), at(3));

    expect(second).toEqual(first);
    expect(api.paths).toHaveLength(1);
  });

  it('asks again for an hour that fell back, and only for the uncached span', async () => {
    const cache = memoryCache();
    const missingHour = at(2);
    values = (start) =>
      start >= missingHour && start < missingHour + HOUR_MS
        ? { forecast: null, actual: null }
        : steadyValues(start);
    const first = await source({ cache }).intensities(at(0), at(4));
    expect(first.get(missingHour)).toEqual(fallback);
    expect([...cache.entries.keys()]).toEqual([at(0), at(1), at(3)]);

    values = steadyValues;
    const second = await source({ cache }).intensities(at(0), at(4));

    expect(api.paths).toEqual([
      '/intensity/2025-09-20T00:00Z/2025-09-20T04:00Z',
      '/intensity/2025-09-20T02:00Z/2025-09-20T03:00Z',
    ]);
    expect(second.get(missingHour)).toEqual(real(104.5));
    expect(cache.entries.get(missingHour)).toEqual(real(104.5));
  });

  it('asks again after a failed request, for that window only', async () => {
    const cache = memoryCache();
    await source({ cache }).intensities(at(0), at(1));
    api.answer = (_window, _req, res) => sendJson(res, {}, 503);
    const failed = await source({ cache }).intensities(at(0), at(2));
    expect(failed).toEqual(
      new Map([
        [at(0), real(100.5)],
        [at(1), fallback],
      ]),
    );
    expect(cache.entries.has(at(1))).toBe(false);

    expect(api.paths).toEqual([
      '/intensity/2025-09-20T00:00Z/2025-09-20T01:00Z',
      '/intensity/2025-09-20T01:00Z/2025-09-20T02:00Z',
    ]);
  });

  it('does not cache an hour built on a forecast, or one not over yet', async () => {
    const cache = memoryCache();
    values = (start) => (start === at(1) ? { forecast: 300, actual: null } : steadyValues(start));

    const out = await source({ cache, now: () => at(2) + HALF }).intensities(at(0), at(3));

    expect(out).toEqual(
      new Map([
        [at(0), real(100.5)],
        [at(1), real((300 + 103) / 2)],
        [at(2), real(104.5)],
      ]),
    );
    expect([...cache.entries.keys()]).toEqual([at(0)]);
  });

  it('ignores an estimated hour a cache hands back', async () => {
    const cache = memoryCache();
    cache.entries.set(at(0), fallback);

    expect(await source({ cache }).intensities(at(0), at(1))).toEqual(new Map([[at(0), real(100.5)]]));
    expect(api.paths).toHaveLength(1);
  });

  it('still answers when the cache cannot be read or written', async () => {
    const { log, warnings } = recordingLogger();
    const broken = {
      get: () => Promise.reject(new Error('disk on fire')),
      put: () => Promise.reject(new Error('disk full')),
    };

    const out = await source({ cache: broken, log }).intensities(at(0), at(1));

    expect(out).toEqual(new Map([[at(0), real(100.5)]]));
    expect(warnings.map((w) => [w.msg, w.fields?.error])).toEqual([
      ['carbon intensity cache could not be read; asking the API', 'disk on fire'],
      ['carbon intensity cache could not be written; those hours will be asked again', 'disk full'],
    ]);
  });
});
