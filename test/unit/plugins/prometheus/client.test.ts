import { createServer } from 'node:net';
import { HOUR_MS } from '../../../../src/domain/time';
import {
  abortableSleep,
  createPrometheusClient,
  PrometheusError,
  type PrometheusClientOptions,
} from '../../../../src/plugins/prometheus/client';
import {
  connectionRefused,
  fakeFetch,
  LAB_QUERIES,
  never,
  recorded,
  type FakeFetch,
} from './fake-prometheus';

const request = { query: LAB_QUERIES.idle, start: 1758416400, end: 1758441600, step: 3600 };

function clientWith(fetchImpl: FakeFetch | typeof fetch, options: Partial<PrometheusClientOptions> = {}) {
  const delays: number[] = [];
  const client = createPrometheusClient({
    url: 'http://prometheus.test:9090/',
    timeoutMs: 1000,
    attempts: 3,
    fetch: fetchImpl,
    sleep: async (ms) => {
      delays.push(ms);
    },
    ...options,
  });
  return { client, delays };
}

async function failureOf(promise: Promise<unknown>): Promise<PrometheusError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(PrometheusError);
  return err as PrometheusError;
}

describe('createPrometheusClient', () => {
  it('POSTs the query as a form to /api/v1/query_range and returns the recorded matrix', async () => {
    const fetchImpl = fakeFetch(() => new Response(recorded('idle.json')));
    const { client } = clientWith(fetchImpl);

    const series = await client.queryRange(request);

    expect(fetchImpl.requests).toEqual([
      {
        url: 'http://prometheus.test:9090/api/v1/query_range',
        method: 'POST',
        contentType: 'application/x-www-form-urlencoded',
        ...request,
      },
    ]);
    expect(series.map((s) => s.metric.instance)).toEqual(['10.0.0.1:9100', '[fd00::2]:9100']);
    expect(series[1].values).toEqual([
      [1758416400, '4560'],
      [1758420000, '3420'],
      [1758423600, '4560'],
    ]);
  });

  it('keeps a path prefix of the configured URL', async () => {
    const fetchImpl = fakeFetch(() => new Response(recorded('empty.json')));
    await clientWith(fetchImpl, { url: 'https://proxy.test/prometheus' }).client.queryRange(request);
    expect(fetchImpl.requests[0].url).toBe('https://proxy.test/prometheus/api/v1/query_range');
  });

  it('retries with exponential backoff and succeeds when the fault clears', async () => {
    const fetchImpl = fakeFetch(() =>
      fetchImpl.requests.length < 3
        ? new Response('upstream exploded', { status: 502 })
        : new Response(recorded('empty.json')),
    );
    const { client, delays } = clientWith(fetchImpl, { attempts: 4 });
    await expect(client.queryRange(request)).resolves.toEqual([]);
    expect(fetchImpl.requests).toHaveLength(3);
    expect(delays).toEqual([250, 500]);
  });

  const faults: Array<[string, () => Response | Promise<Response>, PrometheusError['kind'], RegExp]> = [
    [
      'connection refused',
      () => {
        throw connectionRefused();
      },
      'refused',
      /^Prometheus at http:\/\/prometheus\.test:9090 refused the connection \(ECONNREFUSED\) \(after 3 attempts\)$/,
    ],
    [
      'an unknown host',
      () => {
        throw new TypeError('fetch failed', {
          cause: Object.assign(new Error('getaddrinfo ENOTFOUND prometheus.test'), { code: 'ENOTFOUND' }),
        });
      },
      'network',
      /^cannot reach Prometheus at http:\/\/prometheus\.test:9090: ENOTFOUND \(after 3 attempts\)$/,
    ],
    [
      'HTTP 500',
      () =>
        new Response('<html>upstream exploded</html>', { status: 500, statusText: 'Internal Server Error' }),
      'http',
      /^Prometheus answered HTTP 500 Internal Server Error: <html>upstream exploded<\/html> \(after 3 attempts\)$/,
    ],
    [
      'HTTP 503 with Prometheus’ error envelope',
      () =>
        Response.json(
          { status: 'error', errorType: 'unavailable', error: 'too many queries' },
          { status: 503 },
        ),
      'query',
      /^Prometheus answered HTTP 503: unavailable: too many queries \(after 3 attempts\)$/,
    ],
    [
      'a body that is not JSON',
      () => new Response('<html><body>Bad gateway</body></html>'),
      'bad-body',
      /^Prometheus answer is not JSON: <html><body>Bad gateway<\/body><\/html> \(after 3 attempts\)$/,
    ],
    [
      'truncated JSON',
      () => new Response(recorded('idle.json').slice(0, 300)),
      'bad-body',
      /^Prometheus answer is truncated JSON \(300 chars: .*\) \(after 3 attempts\)$/,
    ],
    [
      'a body cut off mid-stream',
      () =>
        new Response(
          new ReadableStream({
            start(controller) {
              controller.enqueue(new TextEncoder().encode('{"status":"succ'));
              controller.error(new Error('other side closed'));
            },
          }),
        ),
      'bad-body',
      /^Prometheus answer was cut off: other side closed \(after 3 attempts\)$/,
    ],
    [
      'JSON of the wrong shape',
      () =>
        Response.json({
          status: 'success',
          data: { resultType: 'matrix', result: [{ metric: {}, values: [[1, 2]] }] },
        }),
      'bad-body',
      /^Prometheus answer has an unexpected shape: data\.result\[0\]\.values holds \[1,2\] \(after 3 attempts\)$/,
    ],
  ];

  it.each(faults)('fails after every try on %s, saying so', async (_name, answer, kind, reason) => {
    const fetchImpl = fakeFetch(answer);
    const { client, delays } = clientWith(fetchImpl);
    const err = await failureOf(client.queryRange(request));
    expect(err.kind).toBe(kind);
    expect(err.message).toMatch(reason);
    expect(err.details.attempts).toBe(3);
    expect(fetchImpl.requests).toHaveLength(3);
    expect(delays).toEqual([250, 500]);
  });

  it('times out a quiet Prometheus after timeoutMs, and retries', async () => {
    const fetchImpl = fakeFetch(never);
    const { client } = clientWith(fetchImpl, { timeoutMs: 30, attempts: 2 });
    const err = await failureOf(client.queryRange(request));
    expect(err.kind).toBe('timeout');
    expect(err.message).toBe(
      'Prometheus at http://prometheus.test:9090 did not answer within 30 ms (after 2 attempts)',
    );
    expect(fetchImpl.requests).toHaveLength(2);
  });

  it('does not retry a bad query (HTTP 400, as recorded)', async () => {
    const fetchImpl = fakeFetch(
      () => new Response(recorded('bad-query.json'), { status: 400, statusText: 'Bad Request' }),
    );
    const { client, delays } = clientWith(fetchImpl);
    const err = await failureOf(client.queryRange(request));
    expect(err.kind).toBe('query');
    expect(err.message).toBe(
      'Prometheus answered HTTP 400 Bad Request: bad_data: 1:88: parse error: unclosed left parenthesis',
    );
    expect(err.details).toEqual({ status: 400, attempts: 1 });
    expect(fetchImpl.requests).toHaveLength(1);
    expect(delays).toEqual([]);
  });

  it('does not retry other 4xx answers', async () => {
    const fetchImpl = fakeFetch(
      () => new Response('no such route', { status: 404, statusText: 'Not Found' }),
    );
    const err = await failureOf(clientWith(fetchImpl).client.queryRange(request));
    expect(err.message).toBe('Prometheus answered HTTP 404 Not Found: no such route');
    expect(fetchImpl.requests).toHaveLength(1);
  });

  it('reports status "error" in a 200 answer with its errorType and error', async () => {
    const fetchImpl = fakeFetch(() => new Response(recorded('bad-query.json')));
    const err = await failureOf(clientWith(fetchImpl).client.queryRange(request));
    expect(err.message).toBe(
      'Prometheus query failed: bad_data: 1:88: parse error: unclosed left parenthesis',
    );
    expect(fetchImpl.requests).toHaveLength(1);
  });

  it('rejects an answer that is not a matrix (a recorded instant query)', async () => {
    const fetchImpl = fakeFetch(() => new Response(recorded('vector.json')));
    const err = await failureOf(clientWith(fetchImpl).client.queryRange(request));
    expect(err.kind).toBe('result-type');
    expect(err.message).toBe('Prometheus answered resultType "vector", expected "matrix"');
    expect(fetchImpl.requests).toHaveLength(1);
  });

  it('POSTs an instant query to /api/v1/query and returns the recorded vector', async () => {
    const bodies: string[] = [];
    const fetchImpl = fakeFetch(() => new Response(recorded('vector.json')));
    const recordingFetch = ((input: string, init?: RequestInit) => {
      bodies.push(String(init?.body));
      return fetchImpl(input, init);
    }) as typeof fetch;
    const samples = await clientWith(recordingFetch).client.query({
      query: LAB_QUERIES.idle,
      time: 1758416400,
    });

    expect(fetchImpl.requests).toHaveLength(1);
    const [sent] = fetchImpl.requests;
    expect([sent.url, sent.method, sent.contentType]).toEqual([
      'http://prometheus.test:9090/api/v1/query',
      'POST',
      'application/x-www-form-urlencoded',
    ]);
    expect(Object.fromEntries(new URLSearchParams(bodies[0]))).toEqual({
      query: LAB_QUERIES.idle,
      time: '1758416400',
    });
    expect(samples.map((s) => [s.metric.instance, s.value])).toEqual([
      ['10.0.0.1:9100', [1758416400, '6780']],
      ['[fd00::2]:9100', [1758416400, '4560']],
    ]);
  });

  it('retries an instant query like a range query, and rejects a matrix for it', async () => {
    const flaky = fakeFetch(() =>
      flaky.requests.length < 2
        ? new Response('down', { status: 503 })
        : new Response(recorded('vector.json')),
    );
    const { client, delays } = clientWith(flaky);
    await expect(client.query({ query: 'up', time: 1 })).resolves.toHaveLength(2);
    expect(delays).toEqual([250]);

    const matrix = fakeFetch(() => new Response(recorded('idle.json')));
    const err = await failureOf(clientWith(matrix).client.query({ query: 'up', time: 1 }));
    expect(err.kind).toBe('result-type');
    expect(err.message).toBe('Prometheus answered resultType "matrix", expected "vector"');
  });

  it('rejects a vector sample of the wrong shape', async () => {
    const fetchImpl = fakeFetch(() =>
      Response.json({
        status: 'success',
        data: { resultType: 'vector', result: [{ metric: { instance: 'a' }, value: [1, 2] }] },
      }),
    );
    const err = await failureOf(
      clientWith(fetchImpl, { attempts: 1 }).client.query({ query: 'up', time: 1 }),
    );
    expect(err.message).toBe('Prometheus answer has an unexpected shape: data.result[0].value is [1,2]');
  });

  it('classifies a real refused connection from Node’s fetch', async () => {
    const port = await new Promise<number>((resolve) => {
      const server = createServer().listen(0, '127.0.0.1', () => {
        const { port } = server.address() as { port: number };
        server.close(() => resolve(port));
      });
    });
    const { client } = clientWith(fetch, { url: `http://127.0.0.1:${port}`, attempts: 1 });
    const err = await failureOf(client.queryRange(request));
    expect(err.message).toBe(`Prometheus at http://127.0.0.1:${port} refused the connection (ECONNREFUSED)`);
  });

  it('rejects with the caller’s AbortError, without retrying, when aborted mid-request', async () => {
    const fetchImpl = fakeFetch(never);
    const controller = new AbortController();
    const pending = clientWith(fetchImpl).client.queryRange(request, controller.signal);
    controller.abort();
    await expect(pending).rejects.toMatchObject({ name: 'AbortError' });
    expect(fetchImpl.requests).toHaveLength(1);
  });

  it('stops waiting between tries when aborted during the backoff', async () => {
    const fetchImpl = fakeFetch(() => new Response('down', { status: 503 }));
    const controller = new AbortController();
    const asked: number[] = [];
    const client = createPrometheusClient({
      url: 'http://prometheus.test',
      timeoutMs: 1000,
      attempts: 3,
      fetch: fetchImpl,
      // The real sleep, for an hour: only the abort, sent once it sleeps, can end it in time.
      sleep: (ms, signal) => {
        asked.push(ms);
        const sleeping = abortableSleep(HOUR_MS, signal);
        setImmediate(() => controller.abort());
        return sleeping;
      },
    });
    await expect(client.queryRange(request, controller.signal)).rejects.toMatchObject({ name: 'AbortError' });
    expect(asked).toEqual([250]);
    expect(fetchImpl.requests).toHaveLength(1);
  });
});
