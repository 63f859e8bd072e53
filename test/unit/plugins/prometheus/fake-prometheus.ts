import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/** Answers recorded from a real Prometheus 2.42 by test/fixtures/prometheus/record.sh. */
export function recorded(name: string): string {
  return readFileSync(join(__dirname, '../../../fixtures/prometheus', name), 'utf8');
}

/** 2025-09-21T00:00:00Z, the first hour of the recorded lab. */
export const LAB_START = Date.UTC(2025, 8, 21);

/** The PromQL record.sh asked, which the source must build from `selector: 'job="node"'`. */
export const LAB_QUERIES = {
  idle: 'sum without (cpu, mode) (increase(node_cpu_seconds_total{mode=~"idle", job="node"}[1h]))',
  busy: 'sum without (cpu, mode) (increase(node_cpu_seconds_total{mode!~"idle", job="node"}[1h]))',
  broken: 'sum without (cpu, mode) (increase(node_cpu_seconds_total{mode!~"idle", job="broken"}[1h]))',
};

/** The resource queries (contract section 8) the source builds from `selector: 'job="node"'` and the defaults. */
export const RESOURCE_QUERIES = {
  cpus: 'count without (cpu) (count without (mode) (last_over_time(node_cpu_seconds_total{job="node"}[1h])))',
  memory:
    'avg_over_time(node_memory_MemTotal_bytes{job="node"}[1h] offset 1ms)' +
    ' - avg_over_time(node_memory_MemAvailable_bytes{job="node"}[1h] offset 1ms)',
  disk:
    'sum without (device, fstype, mountpoint) (' +
    'sum_over_time(node_filesystem_size_bytes{fstype!~"tmpfs|devtmpfs|overlay|squashfs|ramfs|nsfs|proc|sysfs", job="node"}[1h] offset 1ms)' +
    ' - sum_over_time(node_filesystem_avail_bytes{fstype!~"tmpfs|devtmpfs|overlay|squashfs|ramfs|nsfs|proc|sysfs", job="node"}[1h] offset 1ms))' +
    ' / count_over_time(node_memory_MemTotal_bytes{job="node"}[1h] offset 1ms)',
  receive: 'sum without (device) (increase(node_network_receive_bytes_total{device!~"lo", job="node"}[1h]))',
  transmit:
    'sum without (device) (increase(node_network_transmit_bytes_total{device!~"lo", job="node"}[1h]))',
};

/** The recording predates the resource series: each resource query is answered with no series. */
const NO_RESOURCES = Object.fromEntries(
  Object.values(RESOURCE_QUERIES).map((query) => [query, 'empty.json']),
);

/** Whether `query` asks for CPU seconds (idle or busy) rather than a resource, whatever its selector. */
export function isCpuSecondsQuery(query: string): boolean {
  return query.startsWith('sum without (cpu, mode) (increase(node_cpu_seconds_total{mode');
}

export interface SentRequest {
  url: string;
  method: string;
  contentType: string;
  query: string;
  start: number;
  end: number;
  step: number;
}

export type FakeFetch = typeof fetch & { requests: SentRequest[] };

/**
 * A `fetch` that records each query_range request and answers it with `answer`, honouring the
 * request's signal the way Node's fetch does (rejecting with the signal's reason).
 */
export function fakeFetch(answer: (request: SentRequest) => Response | Promise<Response>): FakeFetch {
  const requests: SentRequest[] = [];
  const fetchImpl = async (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
    const form = new URLSearchParams(String(init?.body ?? ''));
    const request: SentRequest = {
      url: String(input),
      method: init?.method ?? 'GET',
      contentType: new Headers(init?.headers).get('content-type') ?? '',
      query: form.get('query') ?? '',
      start: Number(form.get('start')),
      end: Number(form.get('end')),
      step: Number(form.get('step')),
    };
    requests.push(request);
    const signal = init?.signal ?? undefined;
    signal?.throwIfAborted();
    return new Promise<Response>((resolve, reject) => {
      signal?.addEventListener('abort', () => reject(signal.reason), { once: true });
      Promise.resolve()
        .then(() => answer(request))
        .then(resolve, reject);
    });
  };
  return Object.assign(fetchImpl as typeof fetch, { requests });
}

interface Matrix {
  status: string;
  data: {
    resultType: string;
    result: Array<{ metric: Record<string, string>; values: Array<[number, string]> }>;
  };
}

/**
 * Prometheus over the recorded lab: each query is answered from its recorded matrix, cut to the
 * range asked. Points of a range query are evaluated independently, so a cut answer is what
 * Prometheus would have answered for the smaller range.
 */
export function labPrometheus(
  cpuAnswers: Record<string, string> = { [LAB_QUERIES.idle]: 'idle.json', [LAB_QUERIES.busy]: 'busy.json' },
) {
  const answers = { ...NO_RESOURCES, ...cpuAnswers };
  return (request: SentRequest): Response => {
    const file = answers[request.query] ?? (isCpuSecondsQuery(request.query) ? undefined : 'empty.json');
    if (file === undefined) {
      const error = `fake Prometheus has no recording for ${request.query}`;
      return Response.json({ status: 'error', errorType: 'bad_data', error }, { status: 400 });
    }
    const matrix = JSON.parse(recorded(file)) as Matrix;
    const result = matrix.data.result
      .map((series) => ({
        metric: series.metric,
        values: series.values.filter(([t]) => t >= request.start && t <= request.end),
      }))
      .filter((series) => series.values.length > 0);
    return Response.json({ status: 'success', data: { resultType: 'matrix', result } });
  };
}

/** What Node's fetch throws when nothing listens on the port. */
export function connectionRefused(): TypeError {
  const cause = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:9090'), { code: 'ECONNREFUSED' });
  return new TypeError('fetch failed', { cause });
}

/** A promise that never settles: a Prometheus that accepted the connection and went quiet. */
export function never(): Promise<Response> {
  return new Promise<Response>(() => undefined);
}
