import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { HourIntensity } from '../../../../src/domain/usage';
import type { Logger } from '../../../../src/log';
import type { IntensityCache } from '../../../../src/domain/intensity-cache';

/** A half hour as the GB Carbon Intensity API serves it. */
export interface ApiPeriod {
  from: string;
  to: string;
  intensity: { forecast: number | null; actual: number | null; index: string };
}

export type HalfHourValues = (halfStart: number) => { forecast: number | null; actual: number | null };

export type Answer = (
  window: { from: number; to: number },
  req: IncomingMessage,
  res: ServerResponse,
) => void | Promise<void>;

const HALF_HOUR_MS = 1_800_000;

export const apiTime = (ms: number): string => new Date(ms).toISOString().slice(0, 16) + 'Z';

export function period(
  halfStart: number,
  values: { forecast: number | null; actual: number | null },
): ApiPeriod {
  return {
    from: apiTime(halfStart),
    to: apiTime(halfStart + HALF_HOUR_MS),
    intensity: { ...values, index: 'moderate' },
  };
}

/** The live API's way: `{from}` selects the period ending at it, so periods run from from−30 min to to. */
export function periodsEndingAtFromThroughTo(from: number, to: number, values: HalfHourValues): ApiPeriod[] {
  const periods: ApiPeriod[] = [];
  for (let start = from - HALF_HOUR_MS; start < to; start += HALF_HOUR_MS)
    periods.push(period(start, values(start)));
  return periods;
}

/** The other reading of `{from}`: the period starting at it, through the one starting at `to`. */
export function periodsStartingAtFromThroughTo(
  from: number,
  to: number,
  values: HalfHourValues,
): ApiPeriod[] {
  const periods: ApiPeriod[] = [];
  for (let start = from; start <= to; start += HALF_HOUR_MS) periods.push(period(start, values(start)));
  return periods;
}

export function sendJson(res: ServerResponse, body: unknown, status = 200): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}

export interface FakeCarbonIntensityApi {
  url: string;
  /** Paths asked for, in order. */
  paths: string[];
  answer: Answer;
  close(): Promise<void>;
}

/** A local stand-in for api.carbonintensity.org.uk on a port the OS picks. */
export async function startFakeCarbonIntensityApi(values: HalfHourValues): Promise<FakeCarbonIntensityApi> {
  const api: FakeCarbonIntensityApi = {
    url: '',
    paths: [],
    answer: ({ from, to }, _req, res) =>
      sendJson(res, { data: periodsEndingAtFromThroughTo(from, to, values) }),
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  const server = createServer((req, res) => {
    const path = req.url ?? '';
    api.paths.push(path);
    const match = /^\/intensity\/([^/]+)\/([^/]+)$/.exec(path);
    if (!match) return sendJson(res, { error: { code: '400 Bad Request', message: 'unknown path' } }, 400);
    void api.answer({ from: Date.parse(match[1]), to: Date.parse(match[2]) }, req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  api.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return api;
}

export interface Warning {
  msg: string;
  fields?: Record<string, unknown>;
}

export function recordingLogger(): { log: Logger; warnings: Warning[] } {
  const warnings: Warning[] = [];
  const log: Logger = {
    info: () => undefined,
    warn: (msg, fields) => warnings.push({ msg, fields }),
    error: () => undefined,
    child: () => log,
  };
  return { log, warnings };
}

/** An in-memory cache that keeps what it is given, so tests can see what a source chose to cache. */
export function memoryCache(): IntensityCache & { entries: Map<number, HourIntensity> } {
  const entries = new Map<number, HourIntensity>();
  return {
    entries,
    async get(fromHour, toHour) {
      return new Map([...entries].filter(([hour]) => hour >= fromHour && hour < toHour));
    },
    async put(added) {
      for (const [hour, intensity] of added) entries.set(hour, intensity);
    },
  };
}
