import type { PrometheusConfig } from '../../config';
import { HOUR_MS, isWholeHour } from '../../domain/time';
import { silentLogger, type Logger } from '../../log';
import type { CpuSecondsSource, SourceHour } from '../../ingest/ports';
import { hoursOfChunk, type Chunk, type ChunkAnswers } from './chunk-hours';
import { createPrometheusClient, PrometheusError, type Sleep } from './client';
import { cpuSecondsQueries, hourlyRange, resourceQueries } from './promql';

export interface PrometheusSourceDeps {
  fetch?: typeof fetch;
  sleep?: Sleep;
  log?: Logger;
  now?: () => number;
}

/**
 * After Prometheus could not be reached at all (refused, no route, no answer) even with every
 * retry, the chunks started within this long fail at once with the same reason instead of each
 * retrying for nothing: a backfill against a Prometheus that is down stores its hours failed (to
 * be retried by a later run) in seconds, not in minutes of back-off. The first chunk after it asks
 * again.
 */
export const UNREACHABLE_HOLD_MS = 60_000;

/** Chunks in flight at once. */
const CHUNK_CONCURRENCY = 2;
/** Queries in flight at once, over every chunk: what Prometheus sees from us. */
const QUERY_CONCURRENCY = 4;

/** Runs tasks with at most `max` of them running at once; a finished one hands its slot to the next. */
function limiter(max: number): <T>(task: () => Promise<T>) => Promise<T> {
  let running = 0;
  const waiting: Array<() => void> = [];
  return async (task) => {
    if (running < max) running++;
    else await new Promise<void>((resolve) => waiting.push(resolve));
    try {
      return await task();
    } finally {
      const next = waiting.shift();
      if (next) next();
      else running--;
    }
  };
}

function chunksOf(fromHour: number, toHour: number, chunkHours: number): Chunk[] {
  const chunks: Chunk[] = [];
  for (let from = fromHour; from < toHour; from += chunkHours * HOUR_MS) {
    chunks.push({ from, to: Math.min(from + chunkHours * HOUR_MS, toHour) });
  }
  return chunks;
}

const iso = (ms: number): string => new Date(ms).toISOString();

/**
 * CPU seconds and the resources beside them per instance and hour, from node_exporter's series,
 * asked of Prometheus in chunks of `chunkHours` with one range query per figure and chunk (step
 * 1 h: never a request per hour).
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
  const queries: Record<keyof ChunkAnswers, string> = {
    ...cpuSecondsQueries(config.idleModes, config.selector),
    ...resourceQueries(config),
  };
  const sides = Object.keys(queries) as Array<keyof ChunkAnswers>;
  const queryLimit = limiter(QUERY_CONCURRENCY);
  const now = deps.now ?? Date.now;
  let unreachable: { until: number; reason: string } | undefined;

  function failedChunk(chunk: Chunk, error: string): Map<number, SourceHour> {
    const failed: SourceHour = { status: 'failed', error };
    const answers = new Map<number, SourceHour>();
    for (let hour = chunk.from; hour < chunk.to; hour += HOUR_MS) answers.set(hour, failed);
    return answers;
  }

  async function fetchChunk(chunk: Chunk, signal: AbortSignal | undefined): Promise<Map<number, SourceHour>> {
    if (unreachable !== undefined && now() < unreachable.until) {
      return failedChunk(chunk, `not asked: ${unreachable.reason}, moments before`);
    }
    const range = hourlyRange(chunk.from, chunk.to - HOUR_MS);
    // When one query fails the chunk has failed: stop the others rather than let them retry for nothing.
    const sibling = new AbortController();
    const chunkSignal = signal ? AbortSignal.any([signal, sibling.signal]) : sibling.signal;
    const ask = (query: string) =>
      queryLimit(() => {
        chunkSignal.throwIfAborted();
        return client.queryRange({ query, ...range }, chunkSignal).catch((err: unknown) => {
          sibling.abort();
          throw err;
        });
      });
    try {
      const series = await Promise.all(sides.map((side) => ask(queries[side])));
      const answers = {} as ChunkAnswers;
      sides.forEach((side, k) => (answers[side] = series[k]));
      return hoursOfChunk(chunk, answers);
    } catch (err) {
      signal?.throwIfAborted();
      if (!(err instanceof PrometheusError)) throw err;
      log.warn('prometheus chunk failed', {
        from: iso(chunk.from),
        to: iso(chunk.to),
        reason: err.message,
      });
      if (err.kind === 'refused' || err.kind === 'network') {
        unreachable = { until: now() + UNREACHABLE_HOLD_MS, reason: err.message };
      }
      return failedChunk(chunk, err.message);
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
