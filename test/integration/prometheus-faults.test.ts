import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { parseConfig } from '../../src/config';
import { LEVELS } from '../../src/domain/levels';
import { HOUR_MS } from '../../src/domain/time';
import { ingestRange, type IngestReport } from '../../src/ingest/run';
import { ingestDeps } from '../../src/ingest/wiring';
import { jsonLogger } from '../../src/log';
import { openJsonStore } from '../../src/store/json';
import { readDayEntryFile, snapshotFiles } from '../support/store-files';
import {
  LAB_QUERIES,
  LAB_START,
  labPrometheus,
  type SentRequest,
} from '../unit/plugins/prometheus/fake-prometheus';
import { ledgerMonth } from '../support/describe-store';

/**
 * Ingestion end to end (ingestRange, the real Prometheus client and the JSON store) against an
 * HTTP server that answers from answers recorded from a real Prometheus, or misbehaves on purpose.
 * The recordings hold hours 00:00 to 05:00 of 2025-09-21.
 */
type Fault =
  | 'none'
  | 'http-503'
  | 'not-json'
  | 'status-error-503'
  | 'status-error-422'
  | 'status-error-200'
  | 'slow'
  | 'connection-cut'
  | 'truncated-json'
  | 'empty-success'
  | 'absurd-numbers'
  | 'fewer-series';

const ATTEMPTS = 3;
const TIMEOUT_MS = 300;
const DATE = '2025-09-21';
const at = (hour: number) => LAB_START + hour * HOUR_MS;
const SIX = [
  'busy_cpu_seconds_total',
  'idle_cpu_seconds_total',
  'busy_kwh',
  'idle_kwh',
  'busy_gCo2eq',
  'idle_gCo2eq',
];

interface MatrixAnswer {
  status: string;
  data: { resultType: string; result: Array<{ metric: Record<string, string>; values: unknown[] }> };
}

let fault: Fault = 'none';
let requests: SentRequest[] = [];
let server: Server;
let prometheusUrl: string;
let refusedUrl: string;
const scratch: string[] = [];
const good = labPrometheus();

async function readForm(req: IncomingMessage): Promise<SentRequest> {
  let body = '';
  for await (const chunk of req) body += String(chunk);
  const form = new URLSearchParams(body);
  return {
    url: req.url ?? '',
    method: req.method ?? '',
    contentType: req.headers['content-type'] ?? '',
    query: form.get('query') ?? '',
    start: Number(form.get('start')),
    end: Number(form.get('end')),
    step: Number(form.get('step')),
  };
}

async function answer(req: IncomingMessage, res: ServerResponse): Promise<void> {
  const request = await readForm(req);
  requests.push(request);
  const json = (status: number, body: unknown) => {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  };
  switch (fault) {
    case 'none': {
      const response = good(request);
      res.writeHead(response.status, { 'content-type': 'application/json' });
      res.end(await response.text());
      return;
    }
    case 'http-503':
      res.writeHead(503, { 'content-type': 'text/plain' });
      res.end('upstream unavailable');
      return;
    case 'not-json':
      res.writeHead(200, { 'content-type': 'text/html' });
      res.end('<html><body>502 Bad Gateway</body></html>');
      return;
    case 'status-error-503':
      return json(503, {
        status: 'error',
        errorType: 'timeout',
        error: 'query timed out in query execution',
      });
    case 'status-error-422':
      return json(422, {
        status: 'error',
        errorType: 'execution',
        error: 'expanding series: too many samples',
      });
    case 'status-error-200':
      return json(200, { status: 'error', errorType: 'internal', error: 'storage is read-only' });
    case 'slow':
      // Answers, but long after the client's timeout.
      setTimeout(
        () => json(200, { status: 'success', data: { resultType: 'matrix', result: [] } }),
        5000,
      ).unref();
      return;
    case 'connection-cut': {
      const text = await good(request).text();
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': String(text.length) });
      res.write(text.slice(0, text.length >> 1));
      setTimeout(() => res.socket?.destroy(), 20);
      return;
    }
    case 'absurd-numbers': {
      // A broken exporter: one instance's counter grew by 1e308 in hour 04:00, -5 in 05:00 busy (a
      // point at the end of its hour).
      const answered = (await good(request).json()) as MatrixAnswer;
      const absurd = new Map([
        [at(5) / 1000, request.query === LAB_QUERIES.busy ? '1e308' : '3'],
        [at(6) / 1000, request.query === LAB_QUERIES.busy ? '-5' : '3'],
      ]);
      const result = answered.data.result.map((series) => ({
        ...series,
        values: (series.values as Array<[number, string]>).map(([t, v]) =>
          series.metric.instance === '10.0.0.1:9100' && absurd.has(t) ? [t, absurd.get(t)!] : [t, v],
        ),
      }));
      return json(200, { ...answered, data: { ...answered.data, result } });
    }
    case 'empty-success':
      // A Prometheus restarted without its volume: it answers, and knows no series.
      return json(200, { status: 'success', data: { resultType: 'matrix', result: [] } });
    case 'fewer-series': {
      // A fresh replica that scraped only some instances: one instance's series are missing.
      const answered = (await good(request).json()) as MatrixAnswer;
      const result = answered.data.result.filter((series) => series.metric.instance !== '10.0.0.1:9100');
      return json(200, { ...answered, data: { ...answered.data, result } });
    }
    case 'truncated-json': {
      const text = await good(request).text();
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(text.slice(0, text.length >> 1));
      return;
    }
  }
}

beforeAll(async () => {
  server = createServer((req, res) => {
    answer(req, res).catch((err: unknown) => {
      res.destroy(err as Error);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  prometheusUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  // A port that was free a moment ago and has nothing listening: connections are refused.
  const closed = createServer();
  await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
  refusedUrl = `http://127.0.0.1:${(closed.address() as AddressInfo).port}`;
  await new Promise<void>((resolve) => closed.close(() => resolve()));
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  for (const dir of scratch) await rm(dir, { recursive: true, force: true });
});

interface Run {
  report: IngestReport;
  logs: Array<Record<string, unknown>>;
}

async function ingest(
  dataDir: string,
  url: string,
  fromHour: number,
  toHour: number,
  options: { replace?: boolean } = {},
): Promise<Run> {
  const logs: Array<Record<string, unknown>> = [];
  const log = jsonLogger((line) => logs.push(JSON.parse(line)));
  const config = parseConfig({
    prometheus: { url, selector: 'job="node"', attempts: ATTEMPTS, timeoutMs: TIMEOUT_MS, chunkHours: 12 },
    carbon: { source: 'static', gPerKwh: 200 },
    store: { kind: 'json', dataDir },
  });
  const store = await openJsonStore({ dataDir, log });
  try {
    const deps = await ingestDeps(config, store, log, {
      now: () => Date.parse('2025-10-01T00:00:00Z'),
      replace: options.replace,
    });
    return { report: await ingestRange(deps, at(fromHour), at(toHour)), logs };
  } finally {
    await store.close();
  }
}

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'cl-faults-'));
  scratch.push(dir);
  return dir;
}

/** The usage files of an uninterrupted ingest of hours 00:00 to 05:00. */
let cleanUsage: Map<string, string>;

beforeAll(async () => {
  const dir = await tempDir();
  fault = 'none';
  const { report } = await ingest(dir, prometheusUrl, 0, 6);
  expect(report.failed).toEqual([]);
  cleanUsage = await snapshotFiles(dir, 'usage');
  expect(cleanUsage.size).toBeGreaterThan(0);
});

const faults: Array<{ fault: Fault | 'refused'; reason: RegExp; tries: number }> = [
  {
    fault: 'refused',
    reason:
      /^Prometheus at http:\/\/127\.0\.0\.1:\d+ refused the connection \(ECONNREFUSED\) \(after 3 attempts\)$/,
    tries: ATTEMPTS,
  },
  {
    fault: 'slow',
    reason: /^Prometheus at http:\/\/127\.0\.0\.1:\d+ did not answer within 300 ms \(after 3 attempts\)$/,
    tries: ATTEMPTS,
  },
  {
    fault: 'http-503',
    reason: /^Prometheus answered HTTP 503 Service Unavailable: upstream unavailable \(after 3 attempts\)$/,
    tries: ATTEMPTS,
  },
  {
    fault: 'not-json',
    reason:
      /^Prometheus answer is not JSON: <html><body>502 Bad Gateway<\/body><\/html> \(after 3 attempts\)$/,
    tries: ATTEMPTS,
  },
  {
    fault: 'status-error-503',
    reason:
      /^Prometheus answered HTTP 503 Service Unavailable: timeout: query timed out in query execution \(after 3 attempts\)$/,
    tries: ATTEMPTS,
  },
  {
    // A query Prometheus cannot run will not run better a moment later: not retried.
    fault: 'status-error-422',
    reason:
      /^Prometheus answered HTTP 422 Unprocessable Entity: execution: expanding series: too many samples$/,
    tries: 1,
  },
  {
    fault: 'status-error-200',
    reason: /^Prometheus query failed: internal: storage is read-only$/,
    tries: 1,
  },
  {
    fault: 'connection-cut',
    reason: /^Prometheus answer was cut off: .+ \(after 3 attempts\)$/,
    tries: ATTEMPTS,
  },
  {
    fault: 'truncated-json',
    reason: /^Prometheus answer is truncated JSON \(\d+ chars: .+\) \(after 3 attempts\)$/,
    tries: ATTEMPTS,
  },
];

describe.each(faults)('Prometheus fault: $fault', ({ fault: which, reason, tries }) => {
  let dataDir: string;
  let run: Run;

  beforeAll(async () => {
    dataDir = await tempDir();
    fault = 'none';
    // Hours 00:00 to 02:00 go in first, so the store knows its keys when the later hours fail.
    expect((await ingest(dataDir, prometheusUrl, 0, 3)).report.failed).toEqual([]);
    requests = [];
    if (which !== 'refused') fault = which;
    run = await ingest(dataDir, which === 'refused' ? refusedUrl : prometheusUrl, 3, 6);
    fault = 'none';
  });

  it('fails the hours with the reason, in the report and the ledger', async () => {
    expect(run.report).toMatchObject({ hours: 3, okHours: 0, instanceHours: 0 });
    expect(run.report.failed.map((f) => f.hour)).toEqual([at(3), at(4), at(5)]);
    for (const failure of run.report.failed) expect(failure.error).toMatch(reason);

    const store = await openJsonStore({ dataDir });
    const ledger = await ledgerMonth(store, '2025-09');
    await store.close();
    for (const hour of [3, 4, 5]) {
      const record = ledger.get(at(hour));
      expect(record).toMatchObject({ status: 'failed', attempts: 1 });
      expect(record?.status === 'failed' && record.error).toMatch(reason);
    }
    for (const hour of [0, 1, 2]) expect(ledger.get(at(hour))).toMatchObject({ status: 'ok' });
  });

  it(`asks ${tries === 1 ? 'once, without retrying' : `${tries} times, backing off 250 then 500 ms`}`, () => {
    if (which === 'refused') {
      expect(requests).toEqual([]);
    } else {
      const perQuery = [LAB_QUERIES.idle, LAB_QUERIES.busy].map(
        (query) => requests.filter((r) => r.query === query).length,
      );
      // When one query gives up, the other is stopped: it may have asked fewer times.
      expect(Math.max(...perQuery)).toBe(tries);
    }
    const delays = run.logs
      .filter((line) => line.msg === 'prometheus request failed; retrying')
      .map((line) => line.delayMs);
    if (tries === 1) expect(delays).toEqual([]);
    else expect(new Set(delays)).toEqual(new Set([250, 500]));
  });

  it('stores "failed" in every known key’s day entry for those hours, never zeros', async () => {
    let keysChecked = 0;
    for (const level of LEVELS) {
      for (const [path] of cleanUsage) {
        const match = new RegExp(`^usage/${level.toLowerCase()}/([^/]+)/2025/${DATE}\\.json$`).exec(path);
        if (!match) continue;
        const entry = await readDayEntryFile(dataDir, level, decodeURIComponent(match[1]), DATE);
        expect(entry).toBeDefined();
        for (const label of ['03:00', '04:00', '05:00']) {
          expect(entry!.timeseries[label]).toEqual({
            all: Object.fromEntries(SIX.map((f) => [f, 'failed'])),
          });
        }
        keysChecked++;
      }
    }
    expect(keysChecked).toBeGreaterThanOrEqual(LEVELS.length);
  });

  it('is healed by the next run once Prometheus answers: the store equals an uninterrupted run’s', async () => {
    const healed = await ingest(dataDir, prometheusUrl, 3, 6);
    expect(healed.report.failed).toEqual([]);
    expect(await snapshotFiles(dataDir, 'usage')).toEqual(cleanUsage);
  });
});

describe.each<{ fault: Fault }>([{ fault: 'empty-success' }, { fault: 'fewer-series' }])(
  'Prometheus answers success with fewer series: $fault',
  ({ fault: which }) => {
    let dataDir: string;
    let run: Run;

    beforeAll(async () => {
      dataDir = await tempDir();
      fault = 'none';
      expect((await ingest(dataDir, prometheusUrl, 0, 6)).report.failed).toEqual([]);
      fault = which;
      run = await ingest(dataDir, prometheusUrl, 3, 6);
      fault = 'none';
    });

    it('keeps every stored figure and ok status, byte for byte', async () => {
      expect(run.report).toMatchObject({ hours: 3, okHours: 3, failed: [] });
      expect(await snapshotFiles(dataDir, 'usage')).toEqual(cleanUsage);
      const store = await openJsonStore({ dataDir });
      const ledger = await ledgerMonth(store, '2025-09');
      await store.close();
      for (const hour of [3, 4, 5]) {
        expect(ledger.get(at(hour))).toMatchObject({ status: 'ok' });
        expect(ledger.get(at(hour))).not.toHaveProperty('failedAttempts');
      }
    });

    it('says so in the report and the log, hour by hour', () => {
      expect(run.report.kept.map((kept) => kept.hour)).toEqual([at(3), at(4), at(5)]);
      for (const kept of run.report.kept) expect(kept.reason).toMatch(/fewer series.*--replace/);
      const warnings = run.logs.filter((line) => line.msg === 'kept the stored figures of an ok hour');
      expect(warnings.map((line) => line.hour)).toEqual([3, 4, 5].map((h) => new Date(at(h)).toISOString()));
    });

    it('replaces them when told to (ingest --replace), and the next plain run brings them back', async () => {
      const copy = await tempDir();
      fault = 'none';
      await ingest(copy, prometheusUrl, 0, 6);
      fault = which;
      const replaced = await ingest(copy, prometheusUrl, 3, 6, { replace: true });
      fault = 'none';
      expect(replaced.report.kept).toEqual([]);
      const entry = await readDayEntryFile(copy, 'PROJECT', 'IDAaaS', DATE);
      const cleanEntry = JSON.parse(cleanUsage.get(`usage/project/IDAaaS/2025/${DATE}.json`)!);
      const busy = (e: typeof cleanEntry, label: string) =>
        Number(e?.timeseries[label]?.all.busy_cpu_seconds_total ?? 0);
      expect(busy(entry, '04:00')).toBeLessThan(busy(cleanEntry, '04:00'));
      // A good answer has more series than the replaced hours hold: a plain run takes it.
      expect((await ingest(copy, prometheusUrl, 3, 6)).report.kept).toEqual([]);
      expect(await snapshotFiles(copy, 'usage')).toEqual(cleanUsage);
    });
  },
);

describe('Prometheus fault: absurd-numbers', () => {
  it('fails each hour that holds one, with the reason, and stores the others', async () => {
    const dataDir = await tempDir();
    fault = 'absurd-numbers';
    const { report } = await ingest(dataDir, prometheusUrl, 0, 6);
    fault = 'none';
    expect(report.failed.map((f) => f.hour)).toEqual([at(4), at(5)]);
    expect(report.failed[0].error).toMatch(
      /busy CPU seconds "1e308" for .*10\.0\.0\.1:9100.* \(is over 14,745,600/,
    );
    expect(report.failed[1].error).toMatch(/busy CPU seconds "-5" for .*10\.0\.0\.1:9100/);
    expect(report.okHours).toBe(4);

    const store = await openJsonStore({ dataDir });
    const ledger = await ledgerMonth(store, '2025-09');
    await store.close();
    for (const hour of [0, 1, 2, 3]) expect(ledger.get(at(hour))).toMatchObject({ status: 'ok' });
    expect(ledger.get(at(4))).toMatchObject({ status: 'failed' });
    // The stored hours are those of a clean run; the absurd ones read "failed", never a figure.
    const entry = await readDayEntryFile(dataDir, 'PROJECT', 'IDAaaS', DATE);
    const clean = JSON.parse(cleanUsage.get(`usage/project/IDAaaS/2025/${DATE}.json`)!);
    for (const label of ['00:00', '01:00', '02:00', '03:00'])
      expect(entry!.timeseries[label]).toEqual(clean.timeseries[label]);
    expect(entry!.timeseries['04:00']).toEqual({ all: Object.fromEntries(SIX.map((f) => [f, 'failed'])) });
  });
});
