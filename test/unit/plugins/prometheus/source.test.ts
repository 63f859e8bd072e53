import { PrometheusSchema, type PrometheusConfig } from '../../../../src/config';
import type { RawInstanceHour } from '../../../../src/domain/usage';
import { createPrometheusSource, UNREACHABLE_HOLD_MS } from '../../../../src/plugins/prometheus/source';
import type { SourceHour } from '../../../../src/ingest/ports';
import {
  connectionRefused,
  fakeFetch,
  isCpuSecondsQuery,
  LAB_QUERIES,
  LAB_START,
  RESOURCE_QUERIES,
  labPrometheus,
  never,
  recorded,
  type SentRequest,
} from './fake-prometheus';

const HOUR = 3_600_000;
const at = (hours: number) => LAB_START + hours * HOUR;

function config(overrides: Partial<PrometheusConfig> = {}): PrometheusConfig {
  return {
    ...PrometheusSchema.parse({ url: 'http://prometheus.test:9090', selector: 'job="node"' }),
    ...overrides,
  };
}

function sourceWith(
  answer: (request: SentRequest) => Response | Promise<Response>,
  overrides: Partial<PrometheusConfig> = {},
) {
  const fetchImpl = fakeFetch(answer);
  const delays: number[] = [];
  const source = createPrometheusSource(config(overrides), {
    fetch: fetchImpl,
    sleep: async (ms) => {
      delays.push(ms);
    },
  });
  return { source, requests: fetchImpl.requests, delays };
}

const aliceLabels = {
  cloud_project_name: 'IDAaaS',
  host: 'ws-alice-01',
  instance: '10.0.0.1:9100',
  job: 'node',
  machine_name: 'Artemis (Matlab)',
};
const mantidLabels = {
  cloud_project_name: 'Mantid',
  instance: '[fd00::2]:9100',
  job: 'node',
  machine_name: 'Standard CPU',
};
/** What a row holds where Prometheus has no resource series (the recording has none). */
const noResources = {
  upHours: 0,
  memoryByteHours: 0,
  diskByteHours: 0,
  networkReceiveBytes: 0,
  networkTransmitBytes: 0,
};
const alice = (hour: number, idleCpuSeconds: number, busyCpuSeconds: number): RawInstanceHour => ({
  hour: at(hour),
  instance: '10.0.0.1:9100',
  labels: aliceLabels,
  busyCpuSeconds,
  idleCpuSeconds,
  ...noResources,
});
const mantid = (hour: number, idleCpuSeconds: number, busyCpuSeconds: number): RawInstanceHour => ({
  hour: at(hour),
  instance: '[fd00::2]:9100',
  labels: mantidLabels,
  busyCpuSeconds,
  idleCpuSeconds,
  ...noResources,
});

/**
 * The recorded lab, hour by hour (see test/fixtures/prometheus/record.sh). Mantid's host rebooted at
 * 01:15, so hour 01 counts only its CPU seconds since boot; it stops reporting at 03:00, alice at 06:00.
 */
const LAB_HOURS: Array<[number, SourceHour]> = [
  [at(0), { status: 'ok', rows: [alice(0, 6780, 420), mantid(0, 4560, 2640)] }],
  [at(1), { status: 'ok', rows: [alice(1, 6480, 720), mantid(1, 3420, 1980)] }],
  [at(2), { status: 'ok', rows: [alice(2, 6180, 1020), mantid(2, 4560, 2640)] }],
  [at(3), { status: 'ok', rows: [alice(3, 5880, 1320)] }],
  [at(4), { status: 'ok', rows: [alice(4, 5580, 1620)] }],
  [at(5), { status: 'ok', rows: [alice(5, 5280, 1920)] }],
  [at(6), { status: 'ok', rows: [] }],
  [at(7), { status: 'ok', rows: [] }],
];

function failedWith(reason: RegExp) {
  return { status: 'failed', error: expect.stringMatching(reason) };
}

describe('createPrometheusSource', () => {
  it('answers every hour from the recorded idle and busy queries, and one query per resource', async () => {
    const { source, requests } = sourceWith(labPrometheus());

    const hours = await source.fetchHours(at(0), at(8));

    expect([...hours]).toEqual(LAB_HOURS);
    const sent = {
      url: 'http://prometheus.test:9090/api/v1/query_range',
      start: 1758416400,
      end: 1758441600,
      step: 3600,
    };
    expect(requests).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ ...sent, query: LAB_QUERIES.idle }),
        expect.objectContaining({ ...sent, query: LAB_QUERIES.busy }),
        ...Object.values(RESOURCE_QUERIES).map((query) => expect.objectContaining({ ...sent, query })),
      ]),
    );
    expect(requests).toHaveLength(7);
  });

  it('gives the same hours whatever the chunk size', async () => {
    const { source, requests } = sourceWith(labPrometheus(), { chunkHours: 3 });

    const hours = await source.fetchHours(at(0), at(8));

    expect([...hours]).toEqual(LAB_HOURS);
    const ranges = requests.map(({ start, end }) => [start, end]).sort(([a], [b]) => a - b);
    expect(ranges).toEqual([
      ...Array(7).fill([1758416400, 1758423600]),
      ...Array(7).fill([1758427200, 1758434400]),
      ...Array(7).fill([1758438000, 1758441600]),
    ]);
  });

  it('splits 30 days into ceil(720 / 168) = 5 chunks of seven requests, at most four at a time', async () => {
    let inFlight = 0;
    let mostInFlight = 0;
    const { source, requests } = sourceWith(async () => {
      mostInFlight = Math.max(mostInFlight, ++inFlight);
      await new Promise((resolve) => setTimeout(resolve, 5));
      inFlight--;
      return new Response(recorded('empty.json'));
    });
    const from = Date.UTC(2025, 8, 1);

    const hours = await source.fetchHours(from, from + 720 * HOUR);

    expect(hours.size).toBe(720);
    expect([...hours.keys()]).toEqual(Array.from({ length: 720 }, (_, i) => from + i * HOUR));
    expect([...hours.values()].every((hour) => hour.status === 'ok' && hour.rows.length === 0)).toBe(true);
    expect(requests).toHaveLength(35);
    expect(mostInFlight).toBe(4);
    const chunkStarts = [...new Set(requests.map((r) => r.start))].sort((a, b) => a - b);
    const first = from / 1000 + 3600;
    expect(chunkStarts).toEqual([0, 1, 2, 3, 4].map((i) => first + i * 168 * 3600));
    const last = requests.find((r) => r.start === chunkStarts[4]);
    expect(last).toMatchObject({ end: (from + 720 * HOUR) / 1000, step: 3600 });
  });

  it('answers no hours for an empty range, without asking', async () => {
    const { source, requests } = sourceWith(labPrometheus());
    expect((await source.fetchHours(at(3), at(3))).size).toBe(0);
    expect(requests).toHaveLength(0);
  });

  it('counts a missing side as zero (no idle points, as recorded before the lab began)', async () => {
    const { source } = sourceWith(
      labPrometheus({ [LAB_QUERIES.idle]: 'empty.json', [LAB_QUERIES.busy]: 'busy.json' }),
    );
    const hours = await source.fetchHours(at(2), at(4));
    expect([...hours]).toEqual([
      [at(2), { status: 'ok', rows: [alice(2, 0, 1020), mantid(2, 0, 2640)] }],
      [at(3), { status: 'ok', rows: [alice(3, 0, 1320)] }],
    ]);
  });

  it('merges idle and busy by the whole label set, whatever order the series and labels come in', async () => {
    const busy = JSON.parse(recorded('busy.json'));
    busy.data.result.reverse();
    const [first] = busy.data.result;
    first.metric = Object.fromEntries(Object.entries(first.metric as Record<string, string>).reverse());
    const { source } = sourceWith((request) =>
      request.query === LAB_QUERIES.busy
        ? Response.json(busy)
        : new Response(recorded(request.query === LAB_QUERIES.idle ? 'idle.json' : 'empty.json')),
    );
    const hours = await source.fetchHours(at(0), at(8));
    expect([...hours]).toEqual(LAB_HOURS);
  });

  it('fails only the hour with a NaN value, as a recorded broken exporter answered', async () => {
    const { source } = sourceWith(
      labPrometheus({
        'sum without (cpu, mode) (increase(node_cpu_seconds_total{mode=~"idle", job="broken"}[1h]))':
          'empty.json',
        [LAB_QUERIES.broken]: 'broken-nan.json',
      }),
      { selector: 'job="broken"' },
    );
    const hours = await source.fetchHours(at(0), at(3));
    expect([...hours]).toEqual([
      [
        at(0),
        {
          status: 'failed',
          error:
            'Prometheus answered a bad value: busy CPU seconds "NaN" for {instance="10.0.0.9:9100", job="broken"}',
        },
      ],
      [at(1), { status: 'ok', rows: [] }],
      [at(2), { status: 'ok', rows: [] }],
    ]);
  });

  it('fails an hour with a negative or infinite value, naming them', async () => {
    const series = (instance: string, value: string) => ({
      metric: { instance },
      values: [[1758416400, value]],
    });
    const { source } = sourceWith((request) =>
      Response.json({
        status: 'success',
        data: {
          resultType: 'matrix',
          result: isCpuSecondsQuery(request.query)
            ? [
                series('a:1', '-5'),
                series('b:1', '+Inf'),
                series('c:1', '1'),
                series('d:1', ''),
                series('e:1', 'x'),
              ]
            : [],
        },
      }),
    );
    const hours = await source.fetchHours(at(0), at(1));
    expect(hours.get(at(0))).toEqual({
      status: 'failed',
      error:
        'Prometheus answered a bad value: idle CPU seconds "-5" for {instance="a:1"}; ' +
        'idle CPU seconds "+Inf" for {instance="b:1"}; idle CPU seconds "" for {instance="d:1"} and 5 more',
    });
  });

  it('joins the resources to the CPU rows of the same labels: time up from the CPUs, byte-hours over it', async () => {
    const point = (metric: Record<string, string>, value: string) => ({
      metric,
      values: [[at(1) / 1000, value]],
    });
    const ghost = { ...aliceLabels, instance: '10.0.0.99:9100' };
    const answers: Record<string, Array<ReturnType<typeof point>>> = {
      // Alice's 2 CPUs ran 45 minutes of the hour: 5400 CPU-seconds.
      [LAB_QUERIES.idle]: [point(aliceLabels, '5000')],
      [LAB_QUERIES.busy]: [point(aliceLabels, '400')],
      [RESOURCE_QUERIES.cpus]: [point(aliceLabels, '2'), point(ghost, '4')],
      [RESOURCE_QUERIES.memory]: [point(aliceLabels, '4000000000'), point(ghost, '1')],
      [RESOURCE_QUERIES.disk]: [point(aliceLabels, '2e11')],
      [RESOURCE_QUERIES.receive]: [point(aliceLabels, '123456')],
      [RESOURCE_QUERIES.transmit]: [point(aliceLabels, '654321')],
    };
    const { source } = sourceWith((request) =>
      Response.json({ status: 'success', data: { resultType: 'matrix', result: answers[request.query] } }),
    );
    const hours = await source.fetchHours(at(0), at(1));
    expect(hours.get(at(0))).toEqual({
      status: 'ok',
      rows: [
        {
          hour: at(0),
          instance: '10.0.0.1:9100',
          labels: aliceLabels,
          idleCpuSeconds: 5000,
          busyCpuSeconds: 400,
          upHours: 0.75,
          memoryByteHours: 3e9,
          diskByteHours: 1.5e11,
          networkReceiveBytes: 123456,
          networkTransmitBytes: 654321,
        },
      ],
    });
  });

  it('fails an hour whose resource series answered a value that is no measurement', async () => {
    const { source } = sourceWith((request) =>
      Response.json({
        status: 'success',
        data: {
          resultType: 'matrix',
          result:
            request.query === RESOURCE_QUERIES.memory
              ? [{ metric: aliceLabels, values: [[at(1) / 1000, 'NaN']] }]
              : [],
        },
      }),
    );
    const hours = await source.fetchHours(at(0), at(1));
    expect(hours.get(at(0))).toEqual(failedWith(/^Prometheus answered a bad value: memory bytes "NaN" for/));
  });

  it('fails the chunk when Prometheus answers points outside the hours asked', async () => {
    const { source } = sourceWith(() => new Response(recorded('idle.json')), { chunkHours: 2 });
    const hours = await source.fetchHours(at(0), at(4));
    expect(hours.get(at(0))).toEqual(
      failedWith(/^Prometheus answered a point at 1758423600 s, outside the hours asked/),
    );
    expect(hours.get(at(3))).toEqual(failedWith(/outside the hours asked/));
  });

  const faults: Array<[string, () => Response | Promise<Response>, RegExp]> = [
    [
      'connection refused',
      () => {
        throw connectionRefused();
      },
      /^Prometheus at http:\/\/prometheus\.test:9090 refused the connection \(ECONNREFUSED\) \(after 3 attempts\)$/,
    ],
    [
      'HTTP 500',
      () => new Response('boom', { status: 500 }),
      /^Prometheus answered HTTP 500: boom \(after 3 attempts\)$/,
    ],
    [
      'a body that is not JSON',
      () => new Response('<html>'),
      /^Prometheus answer is not JSON: <html> \(after 3 attempts\)$/,
    ],
    [
      'truncated JSON',
      () => new Response(recorded('busy.json').slice(0, 500)),
      /^Prometheus answer is truncated JSON \(500 chars: .*\) \(after 3 attempts\)$/,
    ],
  ];

  it.each(faults)(
    'fails every hour of the chunk on %s in one query, after retrying it',
    async (_name, fault, reason) => {
      const { source, requests, delays } = sourceWith((request) =>
        request.query === LAB_QUERIES.busy ? fault() : labPrometheus()(request),
      );
      const hours = await source.fetchHours(at(0), at(3));
      expect([...hours.values()]).toEqual([failedWith(reason), failedWith(reason), failedWith(reason)]);
      expect(requests.filter((r) => r.query === LAB_QUERIES.busy)).toHaveLength(3);
      expect(requests.filter((r) => r.query === LAB_QUERIES.idle)).toHaveLength(1);
      expect(delays).toEqual([250, 500]);
    },
  );

  it('after Prometheus could not be reached, fails the chunks of the next minute at once, then asks again', async () => {
    let now = LAB_START;
    let down = true;
    const fetchImpl = fakeFetch((request) => {
      if (down) throw connectionRefused();
      return labPrometheus()(request);
    });
    const source = createPrometheusSource(config({ chunkHours: 24 }), {
      fetch: fetchImpl,
      sleep: async () => undefined,
      now: () => now,
    });
    const year = await source.fetchHours(at(0), at(24 * 365));
    const refused = /refused the connection \(ECONNREFUSED\) \(after 3 attempts\)$/;
    const reasons = [...year.values()].map((hour) => (hour.status === 'failed' ? hour.error : 'ok'));
    expect(reasons).toHaveLength(24 * 365);
    expect(reasons.filter((reason) => refused.test(reason)).length).toBeGreaterThan(0);
    expect(
      reasons.every(
        (reason) => refused.test(reason) || /^not asked: Prometheus at .* moments before$/.test(reason),
      ),
    ).toBe(true);
    // The two chunks in flight when it first failed tried, with their retries; no other chunk asked.
    expect(fetchImpl.requests.length).toBeLessThanOrEqual(2 * 3 * (Object.keys(LAB_QUERIES).length + 4));

    // A minute on, and Prometheus back: the next chunk asks again and gets its answer.
    down = false;
    now += UNREACHABLE_HOLD_MS;
    const again = await source.fetchHours(at(0), at(1));
    expect(again.get(at(0))?.status).toBe('ok');
  });

  it('fails the hours of a timed-out chunk and answers the others', async () => {
    const { source, requests } = sourceWith(
      (request) =>
        request.start === 1758427200 && request.query === LAB_QUERIES.idle
          ? never()
          : labPrometheus()(request),
      { chunkHours: 3, timeoutMs: 20, attempts: 2 },
    );
    const hours = await source.fetchHours(at(0), at(8));
    const timedOut = failedWith(
      /^Prometheus at http:\/\/prometheus\.test:9090 did not answer within 20 ms \(after 2 attempts\)$/,
    );
    expect([...hours]).toEqual([
      ...LAB_HOURS.slice(0, 3),
      ...[3, 4, 5].map((h) => [at(h), timedOut]),
      ...LAB_HOURS.slice(6),
    ]);
    expect(requests.filter((r) => r.start === 1758427200 && r.query === LAB_QUERIES.idle)).toHaveLength(2);
  });

  it('does not retry a bad query, and fails its hours with Prometheus’ reason', async () => {
    const { source, requests } = sourceWith(() => new Response(recorded('bad-query.json'), { status: 400 }));
    const hours = await source.fetchHours(at(0), at(2));
    const reason = 'Prometheus answered HTTP 400: bad_data: 1:88: parse error: unclosed left parenthesis';
    expect([...hours.values()]).toEqual([
      { status: 'failed', error: reason },
      { status: 'failed', error: reason },
    ]);
    // Each query asked once, none again; those not yet sent when the first failed are never sent.
    expect(new Set(requests.map((request) => request.query)).size).toBe(requests.length);
    expect(requests).toHaveLength(4);
  });

  it('fails the hours when Prometheus answers a vector (a recorded instant query)', async () => {
    const { source } = sourceWith(() => new Response(recorded('vector.json')));
    const hours = await source.fetchHours(at(0), at(1));
    expect(hours.get(at(0))).toEqual({
      status: 'failed',
      error: 'Prometheus answered resultType "vector", expected "matrix"',
    });
  });

  it('rejects with an AbortError promptly when the caller aborts', async () => {
    const { source, requests } = sourceWith(never, { chunkHours: 24 });
    const controller = new AbortController();
    const pending = source.fetchHours(at(0), at(24 * 30), controller.signal);
    await new Promise((resolve) => setTimeout(resolve, 10));
    controller.abort();
    await expect(pending).rejects.toMatchObject({ name: 'AbortError' });
    expect(requests).toHaveLength(4);
  });

  it('rejects at once when the signal is already aborted', async () => {
    const { source, requests } = sourceWith(labPrometheus());
    await expect(source.fetchHours(at(0), at(8), AbortSignal.abort())).rejects.toMatchObject({
      name: 'AbortError',
    });
    expect(requests).toHaveLength(0);
  });

  it('refuses hours that are not whole', async () => {
    const { source } = sourceWith(labPrometheus());
    await expect(source.fetchHours(at(0) + 1, at(2))).rejects.toThrow(RangeError);
  });
});
