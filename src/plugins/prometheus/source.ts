import type { PrometheusConfig } from '../../config';
import { UNKNOWN } from '../../domain/levels';
import { HOUR_MS, isWholeHour } from '../../domain/time';
import { cpuSecondsProblem } from '../../domain/plausible';
import type { RawInstanceHour } from '../../domain/usage';
import { silentLogger, type Logger } from '../../log';
import type { CpuSecondsSource, SourceHour } from '../source';
import { createPrometheusClient, PrometheusError, type MatrixSeries, type Sleep } from './client';
import { cpuSecondsQueries, hourlyRange, hourOfPoint } from './promql';

export interface PrometheusSourceDeps {
  fetch?: typeof fetch;
  sleep?: Sleep;
  log?: Logger;
}

/** Chunks in flight at once: each is two requests, so Prometheus sees at most four queries from us. */
const CHUNK_CONCURRENCY = 2;
/** How many bad values a failed hour's reason spells out. */
const BAD_VALUES_SHOWN = 3;

interface Chunk {
  /** First hour start, epoch ms. */
  from: number;
  /** End of the last hour, epoch ms (exclusive). */
  to: number;
}

function chunksOf(fromHour: number, toHour: number, chunkHours: number): Chunk[] {
  const chunks: Chunk[] = [];
  for (let from = fromHour; from < toHour; from += chunkHours * HOUR_MS) {
    chunks.push({ from, to: Math.min(from + chunkHours * HOUR_MS, toHour) });
  }
  return chunks;
}

const iso = (ms: number): string => new Date(ms).toISOString();

/** A stable identity for a label set, whatever order the labels come in. */
function labelKey(labels: Record<string, string>): string {
  return JSON.stringify(
    Object.keys(labels)
      .sort()
      .map((name) => [name, labels[name]]),
  );
}

function describeSeries(labels: Record<string, string>): string {
  const pairs = Object.keys(labels)
    .sort()
    .map((name) => `${name}=${JSON.stringify(labels[name])}`);
  return `{${pairs.join(', ')}}`;
}

/** Prometheus writes sample values as text: "123.5", "NaN", "+Inf". */
function cpuSecondsOf(text: string): number {
  return text.trim() === '' ? Number.NaN : Number(text);
}

/**
 * Turns the idle and busy answers of one chunk into an answer per hour. A series contributes a row
 * to each hour where either side has a point (the missing side counts 0). A value that cannot be an
 * hour's CPU seconds (NaN, ±Inf, negative, absurdly large: `cpuSecondsProblem`) fails that hour: it
 * would be wrong to store it, and wrong to store the hour without it.
 */
function hoursOfChunk(chunk: Chunk, idle: MatrixSeries[], busy: MatrixSeries[]): Map<number, SourceHour> {
  const rowsByHour = new Map<number, Map<string, RawInstanceHour>>();
  const badValuesByHour = new Map<number, string[]>();
  const sides = [
    ['idle', idle],
    ['busy', busy],
  ] as const;
  for (const [side, answer] of sides) {
    for (const series of answer) {
      const key = labelKey(series.metric);
      for (const [seconds, text] of series.values) {
        const hour = hourOfPoint(seconds);
        if (!(hour >= chunk.from && hour < chunk.to && isWholeHour(hour))) {
          throw new PrometheusError(
            'bad-body',
            `Prometheus answered a point at ${seconds} s, outside the hours asked (${iso(chunk.from)} to ${iso(chunk.to)})`,
            false,
          );
        }
        const cpuSeconds = cpuSecondsOf(text);
        const problem = cpuSecondsProblem(cpuSeconds);
        if (problem !== undefined) {
          const bad = badValuesByHour.get(hour) ?? [];
          bad.push(
            `${side} CPU seconds ${JSON.stringify(text)} for ${describeSeries(series.metric)}` +
              (cpuSeconds > 0 && Number.isFinite(cpuSeconds) ? ` (${problem})` : ''),
          );
          badValuesByHour.set(hour, bad);
          continue;
        }
        let rows = rowsByHour.get(hour);
        if (rows === undefined) rowsByHour.set(hour, (rows = new Map()));
        let row = rows.get(key);
        if (row === undefined) {
          row = {
            hour,
            // Every scraped series has an instance; one stripped of it by relabelling still counts.
            instance: series.metric.instance ?? UNKNOWN,
            labels: series.metric,
            busyCpuSeconds: 0,
            idleCpuSeconds: 0,
          };
          rows.set(key, row);
        }
        if (side === 'idle') row.idleCpuSeconds += cpuSeconds;
        else row.busyCpuSeconds += cpuSeconds;
      }
    }
  }

  const answers = new Map<number, SourceHour>();
  for (let hour = chunk.from; hour < chunk.to; hour += HOUR_MS) {
    const bad = badValuesByHour.get(hour);
    if (bad !== undefined) {
      const more = bad.length > BAD_VALUES_SHOWN ? ` and ${bad.length - BAD_VALUES_SHOWN} more` : '';
      answers.set(hour, {
        status: 'failed',
        error: `Prometheus answered a bad value: ${bad.slice(0, BAD_VALUES_SHOWN).join('; ')}${more}`,
      });
      continue;
    }
    const rows = rowsByHour.get(hour);
    // An hour Prometheus answered with no points: the instances had no samples, which is not a failure.
    const sorted =
      rows === undefined ? [] : [...rows].sort(([a], [b]) => (a < b ? -1 : 1)).map(([, row]) => row);
    answers.set(hour, { status: 'ok', rows: sorted });
  }
  return answers;
}

/**
 * CPU seconds per instance and hour from node_exporter's `node_cpu_seconds_total`, asked of
 * Prometheus in chunks of `chunkHours` with two range queries per chunk (idle and busy).
 */
export function createPrometheusSource(
  config: PrometheusConfig,
  deps: PrometheusSourceDeps = {},
): CpuSecondsSource {
  const log = (deps.log ?? silentLogger).child({ source: 'prometheus' });
  const client = createPrometheusClient({
    url: config.url,
    timeoutMs: config.timeoutMs,
    attempts: config.attempts,
    fetch: deps.fetch,
    sleep: deps.sleep,
    log,
  });
  const queries = cpuSecondsQueries(config.idleModes, config.selector);

  async function fetchChunk(chunk: Chunk, signal: AbortSignal | undefined): Promise<Map<number, SourceHour>> {
    const range = hourlyRange(chunk.from, chunk.to - HOUR_MS);
    // When one side fails the chunk has failed: stop the other rather than let it retry for nothing.
    const sibling = new AbortController();
    const chunkSignal = signal ? AbortSignal.any([signal, sibling.signal]) : sibling.signal;
    const ask = (query: string) =>
      client.queryRange({ query, ...range }, chunkSignal).catch((err: unknown) => {
        sibling.abort();
        throw err;
      });
    try {
      const [idle, busy] = await Promise.all([ask(queries.idle), ask(queries.busy)]);
      return hoursOfChunk(chunk, idle, busy);
    } catch (err) {
      signal?.throwIfAborted();
      if (!(err instanceof PrometheusError)) throw err;
      log.warn('prometheus chunk failed', {
        from: iso(chunk.from),
        to: iso(chunk.to),
        reason: err.message,
      });
      const failed: SourceHour = { status: 'failed', error: err.message };
      const answers = new Map<number, SourceHour>();
      for (let hour = chunk.from; hour < chunk.to; hour += HOUR_MS) answers.set(hour, failed);
      return answers;
    }
  }

  return {
    async fetchHours(fromHour, toHour, signal) {
      if (!isWholeHour(fromHour) || !isWholeHour(toHour)) {
        throw new RangeError(`fetchHours expects whole hours, got ${fromHour} to ${toHour}`);
      }
      signal?.throwIfAborted();
      const chunks = chunksOf(fromHour, toHour, config.chunkHours);
      const byHour = new Map<number, SourceHour>();
      let nextChunk = 0;
      const worker = async () => {
        while (nextChunk < chunks.length) {
          const chunk = chunks[nextChunk++];
          for (const [hour, answer] of await fetchChunk(chunk, signal)) byHour.set(hour, answer);
        }
      };
      await Promise.all(Array.from({ length: Math.min(CHUNK_CONCURRENCY, chunks.length) }, worker));

      // Chunks finish in any order; answer in hour order.
      const answers = new Map<number, SourceHour>();
      for (let hour = fromHour; hour < toHour; hour += HOUR_MS) answers.set(hour, byHour.get(hour)!);
      return answers;
    },
  };
}
