import { z } from 'zod';
import { DAY_MS, HOUR_MS, hoursOverlapping } from '../../domain/time';
import type { HourIntensity } from '../../domain/usage';
import { errorFields, silentLogger, type Logger } from '../../log';
import type { IntensityCache } from '../../domain/intensity-cache';
import type { CarbonIntensitySource } from '../../ingest/ports';

/*
 * The GB Carbon Intensity API (https://carbon-intensity.github.io/api-definitions/):
 * `GET /intensity/{from}/{to}` answers half-hourly periods,
 * `{ "data": [ { "from": "2018-01-20T12:00Z", "to": "2018-01-20T12:30Z",
 *                "intensity": { "forecast": 266, "actual": 263, "index": "moderate" } } ] }`.
 */

export const CARBON_INTENSITY_API_SOURCE = 'carbon-intensity-api';
export const CARBON_INTENSITY_API_FALLBACK_SOURCE = 'carbon-intensity-api (fallback)';

/**
 * The API docs: "The maximum date range is limited to 14 days" for `/intensity/{from}/{to}`; an exact
 * 14-day range is accepted.
 */
export const MAX_REQUEST_RANGE_MS = 14 * DAY_MS;

const HALF_HOUR_MS = HOUR_MS / 2;

export interface CarbonIntensityApiConfig {
  /** Base URL, e.g. `https://api.carbonintensity.org.uk`. */
  url: string;
  fallbackGPerKwh: number;
  /** Per request, body included. */
  timeoutMs: number;
}

export interface CarbonIntensityApiDeps {
  fetch?: typeof fetch;
  log?: Logger;
  cache?: IntensityCache;
  now?: () => number;
}

/** `actual` is null until the half hour has been measured (and for the future); `forecast` may be null too. */
const gPerKwhOrNull = z.number().nonnegative().nullable().optional();
const PeriodStart = z
  .string()
  .regex(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,3})?)?Z$/, {
    error: 'expected a UTC time like 2018-01-20T12:00Z',
  })
  .transform((iso) => Date.parse(iso))
  .refine((ms) => Number.isFinite(ms) && ms % HALF_HOUR_MS === 0, {
    error: 'expected the start of a half hour',
  });
const IntensityAnswer = z.object({
  data: z.array(
    z.object({ from: PeriodStart, intensity: z.object({ forecast: gPerKwhOrNull, actual: gPerKwhOrNull }) }),
  ),
});

interface HalfHour {
  gPerKwh: number;
  /** False when only the forecast was there. */
  measured: boolean;
}

/** The API's time format: `2025-09-20T00:00Z`. */
function apiTime(ms: number): string {
  return new Date(ms).toISOString().slice(0, 16) + 'Z';
}

/** Groups hours (ascending) into runs whose span fits in one request. */
function requestWindows(hours: number[]): number[][] {
  const windows: number[][] = [];
  for (const hour of hours) {
    const current = windows.at(-1);
    if (current && hour + HOUR_MS - current[0] <= MAX_REQUEST_RANGE_MS) current.push(hour);
    else windows.push([hour]);
  }
  return windows;
}

/** Duck-typed: errors from Node's own fetch may come from another realm, failing `instanceof Error`. */
function messageOf(err: unknown): string | undefined {
  const message = (err as { message?: unknown } | null)?.message;
  return typeof message === 'string' ? message : undefined;
}

function describeFailure(err: unknown, timeout: AbortSignal, timeoutMs: number): string {
  if (timeout.aborted) return `no answer within ${timeoutMs} ms`;
  const message = messageOf(err) ?? String(err);
  // Node's fetch says only "fetch failed"; the cause holds the connection error.
  const cause = messageOf((err as { cause?: unknown } | null)?.cause);
  return cause === undefined ? message : `${message}: ${cause}`;
}

function mean(values: number[]): number {
  return values.reduce((sum, v) => sum + v, 0) / values.length;
}

/**
 * Hourly intensities from the GB Carbon Intensity API: the mean of the hour's two half hours, each its
 * `actual`, else its `forecast`. Hours the API could not give (a failed request, or no value for either
 * half hour) get `fallbackGPerKwh`, marked estimated; a failed request affects only its own window.
 *
 * With a cache, an hour is asked for only until it is settled: both half hours measured and the hour
 * over. Forecast-based and estimated hours are asked again, so the daily reconcile improves them.
 */
export function createCarbonIntensityApiSource(
  config: CarbonIntensityApiConfig,
  deps: CarbonIntensityApiDeps = {},
): CarbonIntensitySource {
  const fetchAnswer = deps.fetch ?? fetch;
  const log = deps.log ?? silentLogger;
  const now = deps.now ?? Date.now;
  const baseUrl = config.url.replace(/\/+$/, '');
  const fallback = (): HourIntensity => ({
    gPerKwh: config.fallbackGPerKwh,
    estimated: true,
    source: CARBON_INTENSITY_API_FALLBACK_SOURCE,
  });

  /**
   * Half hours keyed by their own `from`. The API's `{from}` selects the period that *ends* at it
   * (asking from 19:30 starts the answer at 19:00–19:30, see carbon-intensity/api-definitions#17),
   * so the answer starts half an hour early; matching by `from` works whichever period comes first.
   */
  async function fetchHalfHours(
    from: number,
    to: number,
    signal: AbortSignal,
  ): Promise<Map<number, HalfHour>> {
    const url = `${baseUrl}/intensity/${apiTime(from)}/${apiTime(to)}`;
    const response = await fetchAnswer(url, { headers: { accept: 'application/json' }, signal });
    if (!response.ok) throw new Error(`HTTP ${response.status} ${response.statusText}`.trim());
    const text = await response.text();
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      throw new Error(`the answer is not JSON: ${JSON.stringify(text.slice(0, 80))}`);
    }
    const parsed = IntensityAnswer.safeParse(body);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw new Error(`unexpected answer: ${issue.path.join('.') || '(root)'}: ${issue.message}`);
    }
    const halves = new Map<number, HalfHour>();
    for (const { from: start, intensity } of parsed.data.data) {
      const measured = intensity.actual !== null && intensity.actual !== undefined;
      const gPerKwh = intensity.actual ?? intensity.forecast;
      // A period served twice (it has happened, api-definitions#17) counts once.
      if (gPerKwh !== null && gPerKwh !== undefined) halves.set(start, { gPerKwh, measured });
    }
    return halves;
  }

  async function readCache(fromHour: number, toHour: number): Promise<Map<number, HourIntensity>> {
    if (!deps.cache) return new Map();
    try {
      return await deps.cache.get(fromHour, toHour);
    } catch (err) {
      log.warn('carbon intensity cache could not be read; asking the API', errorFields(err));
      return new Map();
    }
  }

  async function writeCache(settled: Map<number, HourIntensity>): Promise<void> {
    if (!deps.cache || settled.size === 0) return;
    try {
      await deps.cache.put(settled);
    } catch (err) {
      log.warn(
        'carbon intensity cache could not be written; those hours will be asked again',
        errorFields(err),
      );
    }
  }

  return {
    async intensities(fromHour, toHour, signal) {
      const hours = hoursOverlapping(fromHour, toHour);
      const found = new Map<number, HourIntensity>();
      for (const [hour, intensity] of await readCache(fromHour, toHour)) {
        if (!intensity.estimated) found.set(hour, intensity);
      }
      const settled = new Map<number, HourIntensity>();

      for (const window of requestWindows(hours.filter((hour) => !found.has(hour)))) {
        const from = window[0];
        const to = window[window.length - 1] + HOUR_MS;
        const timeout = AbortSignal.timeout(config.timeoutMs);
        let halves: Map<number, HalfHour>;
        try {
          halves = await fetchHalfHours(from, to, signal ? AbortSignal.any([signal, timeout]) : timeout);
        } catch (err) {
          // The caller giving up is not the API failing: no fallback, just stop.
          signal?.throwIfAborted();
          log.warn('carbon intensity API request failed; using the fallback intensity', {
            from: apiTime(from),
            to: apiTime(to),
            reason: describeFailure(err, timeout, config.timeoutMs),
            fallbackGPerKwh: config.fallbackGPerKwh,
          });
          for (const hour of window) found.set(hour, fallback());
          continue;
        }

        const unanswered: string[] = [];
        const halfAnswered: string[] = [];
        for (const hour of window) {
          const parts = [halves.get(hour), halves.get(hour + HALF_HOUR_MS)].filter(
            (half) => half !== undefined,
          );
          if (parts.length === 0) {
            found.set(hour, fallback());
            unanswered.push(apiTime(hour));
            continue;
          }
          // One half alone is a better guess than the fallback, but not the hour's mean: estimated,
          // so the reconcile asks for it again.
          if (parts.length === 1) halfAnswered.push(apiTime(hour));
          const intensity = {
            gPerKwh: mean(parts.map((half) => half.gPerKwh)),
            estimated: parts.length === 1,
            source: CARBON_INTENSITY_API_SOURCE,
          };
          found.set(hour, intensity);
          const isSettled =
            parts.length === 2 && parts.every((half) => half.measured) && hour + HOUR_MS <= now();
          if (isSettled) settled.set(hour, intensity);
        }
        if (halfAnswered.length > 0) {
          log.warn('carbon intensity API gave one half hour only for some hours; estimated from it', {
            hours: halfAnswered,
          });
        }
        if (unanswered.length > 0) {
          log.warn('carbon intensity API gave no value for some hours; using the fallback intensity', {
            hours: unanswered,
            fallbackGPerKwh: config.fallbackGPerKwh,
          });
        }
      }

      await writeCache(settled);
      return new Map(hours.map((hour): [number, HourIntensity] => [hour, found.get(hour)!]));
    },
  };
}
