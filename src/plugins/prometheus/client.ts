import { silentLogger, type Logger } from '../../log';

/** One series of a query_range answer: its labels and its [Unix seconds, value as text] points. */
export interface MatrixSeries {
  metric: Record<string, string>;
  values: Array<[number, string]>;
}

/** A query_range request, in the API's units: Unix seconds and a step in seconds. */
export interface QueryRangeRequest {
  query: string;
  start: number;
  end: number;
  step: number;
}

/** One series of an instant query's answer: its labels and its [Unix seconds, value as text] sample. */
export interface VectorSample {
  metric: Record<string, string>;
  value: [number, string];
}

/** An instant query, evaluated at `time` (Unix seconds). */
export interface InstantQueryRequest {
  query: string;
  time: number;
}

export interface PrometheusClient {
  /** The answer's series; rejects with a `PrometheusError` once the tries are used up. */
  queryRange(request: QueryRangeRequest, signal?: AbortSignal): Promise<MatrixSeries[]>;
  /** The answer's samples (`/api/v1/query`); rejects like `queryRange`. */
  query(request: InstantQueryRequest, signal?: AbortSignal): Promise<VectorSample[]>;
}

export type Sleep = (ms: number, signal?: AbortSignal) => Promise<void>;

export interface PrometheusClientOptions {
  /** Base URL of Prometheus; a path prefix (behind a proxy) is kept. */
  url: string;
  /** Per try, covering the connection, the headers and the body. */
  timeoutMs: number;
  /** Tries per request, the first included. */
  attempts: number;
  fetch?: typeof fetch;
  sleep?: Sleep;
  log?: Logger;
}

export type PrometheusErrorKind =
  'refused' | 'timeout' | 'network' | 'http' | 'query' | 'bad-body' | 'result-type';

/** A request that got no usable answer. `message` is a short reason fit for the ledger. */
export class PrometheusError extends Error {
  constructor(
    readonly kind: PrometheusErrorKind,
    message: string,
    /** Worth another try: the fault may be gone in a moment (network, timeout, 5xx, a mangled body). */
    readonly retryable: boolean,
    readonly details: { status?: number; attempts?: number; cause?: unknown } = {},
  ) {
    super(message, { cause: details.cause });
    this.name = 'PrometheusError';
  }
}

/** First delay between tries; it doubles after each one (250 ms, 500 ms, 1 s, …). */
const BACKOFF_BASE_MS = 250;
/** How much of an unexpected body goes into a reason. */
const SNIPPET_CHARS = 200;

export const abortableSleep: Sleep = (ms, signal) =>
  new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });

function snippet(text: string): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length > SNIPPET_CHARS ? `${flat.slice(0, SNIPPET_CHARS)}…` : flat;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** An error's message; duck-typed, since errors from Node's own fetch may come from another realm. */
function messageOf(err: unknown): string {
  return isRecord(err) && typeof err.message === 'string' ? err.message : String(err);
}

/** Node's fetch fails with `TypeError('fetch failed')` and the socket error, with its code, as the cause. */
function networkError(err: unknown, url: string): PrometheusError {
  const cause = isRecord(err) && err.cause !== undefined ? err.cause : err;
  const code = isRecord(cause) && typeof cause.code === 'string' ? cause.code : undefined;
  if (code === 'ECONNREFUSED') {
    return new PrometheusError(
      'refused',
      `Prometheus at ${url} refused the connection (ECONNREFUSED)`,
      true,
      {
        cause: err,
      },
    );
  }
  return new PrometheusError(
    'network',
    `cannot reach Prometheus at ${url}: ${code ?? messageOf(cause)}`,
    true,
    {
      cause: err,
    },
  );
}

/** Prometheus' error envelope: `{"status":"error","errorType":"bad_data","error":"…"}`. */
function prometheusErrorOf(body: unknown): string | undefined {
  if (!isRecord(body) || body.status !== 'error') return undefined;
  return `${String(body.errorType ?? 'error')}: ${String(body.error ?? '(no message)')}`;
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (err) {
    const trimmed = text.trim();
    // Prometheus answers a JSON object: one that starts but never closes was cut short on the way.
    if (trimmed.startsWith('{') && !trimmed.endsWith('}')) {
      throw new PrometheusError(
        'bad-body',
        `Prometheus answer is truncated JSON (${text.length} chars: ${messageOf(err)})`,
        true,
      );
    }
    throw new PrometheusError(
      'bad-body',
      `Prometheus answer is not JSON: ${snippet(text) || '(empty)'}`,
      true,
    );
  }
}

function badShape(what: string): PrometheusError {
  return new PrometheusError('bad-body', `Prometheus answer has an unexpected shape: ${what}`, true);
}

/** Checks the matrix's structure; values stay text, since judging them is the caller's business. */
function toMatrix(result: unknown): MatrixSeries[] {
  if (!Array.isArray(result)) throw badShape('data.result is not a list');
  for (const [i, series] of result.entries()) {
    if (!isRecord(series) || !isRecord(series.metric) || !Array.isArray(series.values)) {
      throw badShape(`data.result[${i}] lacks metric or values`);
    }
    for (const value of Object.values(series.metric)) {
      if (typeof value !== 'string') throw badShape(`data.result[${i}].metric has a non-string label`);
    }
    for (const point of series.values as unknown[]) {
      if (!Array.isArray(point) || typeof point[0] !== 'number' || typeof point[1] !== 'string') {
        throw badShape(`data.result[${i}].values holds ${snippet(JSON.stringify(point))}`);
      }
    }
  }
  return result as MatrixSeries[];
}

/** Checks the vector's structure; values stay text, as in a matrix. */
function toVector(result: unknown): VectorSample[] {
  if (!Array.isArray(result)) throw badShape('data.result is not a list');
  for (const [i, sample] of result.entries()) {
    if (!isRecord(sample) || !isRecord(sample.metric) || !Array.isArray(sample.value)) {
      throw badShape(`data.result[${i}] lacks metric or value`);
    }
    for (const value of Object.values(sample.metric)) {
      if (typeof value !== 'string') throw badShape(`data.result[${i}].metric has a non-string label`);
    }
    const [time, value] = sample.value as unknown[];
    if (sample.value.length !== 2 || typeof time !== 'number' || typeof value !== 'string') {
      throw badShape(`data.result[${i}].value is ${snippet(JSON.stringify(sample.value))}`);
    }
  }
  return result as VectorSample[];
}

/** What differs between the two endpoints: where to ask, and what a good answer holds. */
interface Endpoint<T> {
  path: string;
  resultType: 'matrix' | 'vector';
  parse(result: unknown): T;
}

const RANGE_ENDPOINT: Endpoint<MatrixSeries[]> = {
  path: '/api/v1/query_range',
  resultType: 'matrix',
  parse: toMatrix,
};
const INSTANT_ENDPOINT: Endpoint<VectorSample[]> = {
  path: '/api/v1/query',
  resultType: 'vector',
  parse: toVector,
};

export function createPrometheusClient(options: PrometheusClientOptions): PrometheusClient {
  const fetchImpl = options.fetch ?? fetch;
  const sleep = options.sleep ?? abortableSleep;
  const log = options.log ?? silentLogger;
  const url = options.url.replace(/\/+$/, '');

  async function tryOnce<T>(
    endpoint: Endpoint<T>,
    form: Record<string, string>,
    signal: AbortSignal | undefined,
  ): Promise<T> {
    const timeout = AbortSignal.timeout(options.timeoutMs);
    const combined = signal ? AbortSignal.any([signal, timeout]) : timeout;
    const whenAborted = (err: unknown, fallback: (err: unknown) => PrometheusError): unknown => {
      if (signal?.aborted) return signal.reason;
      if (timeout.aborted) {
        return new PrometheusError(
          'timeout',
          `Prometheus at ${url} did not answer within ${options.timeoutMs} ms`,
          true,
          { cause: err },
        );
      }
      return fallback(err);
    };

    let response: Response;
    try {
      // A form POST: the PromQL (with a long selector) never meets a URL length limit.
      response = await fetchImpl(`${url}${endpoint.path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
        body: new URLSearchParams(form).toString(),
        signal: combined,
      });
    } catch (err) {
      throw whenAborted(err, (cause) => networkError(cause, url));
    }

    let text: string;
    try {
      text = await response.text();
    } catch (err) {
      throw whenAborted(
        err,
        (cause) =>
          new PrometheusError('bad-body', `Prometheus answer was cut off: ${messageOf(cause)}`, true, {
            cause,
          }),
      );
    }

    if (!response.ok) {
      let queryError: string | undefined;
      try {
        queryError = prometheusErrorOf(JSON.parse(text));
      } catch {
        // Not Prometheus' own error envelope (a proxy's page, say): the status and body tell the story.
      }
      const retryable = response.status >= 500;
      const details = { status: response.status };
      const status = `HTTP ${response.status}${response.statusText ? ` ${response.statusText}` : ''}`;
      throw queryError !== undefined
        ? new PrometheusError('query', `Prometheus answered ${status}: ${queryError}`, retryable, details)
        : new PrometheusError(
            'http',
            `Prometheus answered ${status}: ${snippet(text) || '(empty body)'}`,
            retryable,
            details,
          );
    }

    const body = parseJson(text);
    const queryError = prometheusErrorOf(body);
    if (queryError !== undefined) {
      throw new PrometheusError('query', `Prometheus query failed: ${queryError}`, false, {
        status: response.status,
      });
    }
    if (!isRecord(body) || body.status !== 'success' || !isRecord(body.data)) {
      throw badShape(`expected {"status":"success","data":…}, got ${snippet(text)}`);
    }
    if (body.data.resultType !== endpoint.resultType) {
      throw new PrometheusError(
        'result-type',
        `Prometheus answered resultType ${JSON.stringify(body.data.resultType)}, expected "${endpoint.resultType}"`,
        false,
      );
    }
    if (Array.isArray(body.warnings) && body.warnings.length > 0) {
      log.warn('prometheus answered with warnings', { query: form.query, warnings: body.warnings });
    }
    return endpoint.parse(body.data.result);
  }

  async function ask<T>(
    endpoint: Endpoint<T>,
    form: Record<string, string>,
    signal: AbortSignal | undefined,
  ): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await tryOnce(endpoint, form, signal);
      } catch (err) {
        if (!(err instanceof PrometheusError)) throw err;
        if (!err.retryable || attempt >= options.attempts) {
          const tries = attempt > 1 ? ` (after ${attempt} attempts)` : '';
          throw new PrometheusError(err.kind, `${err.message}${tries}`, err.retryable, {
            ...err.details,
            attempts: attempt,
          });
        }
        const delayMs = BACKOFF_BASE_MS * 2 ** (attempt - 1);
        log.warn('prometheus request failed; retrying', { reason: err.message, attempt, delayMs });
        await sleep(delayMs, signal);
      }
    }
  }

  return {
    queryRange: (request, signal) =>
      ask(
        RANGE_ENDPOINT,
        {
          query: request.query,
          start: String(request.start),
          end: String(request.end),
          step: String(request.step),
        },
        signal,
      ),
    query: (request, signal) =>
      ask(INSTANT_ENDPOINT, { query: request.query, time: String(request.time) }, signal),
  };
}
