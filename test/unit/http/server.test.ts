import { request } from 'node:http';
import { connect } from 'node:net';

import { createServiceMetrics } from '../../../src/metrics';
import type { Store } from '../../../src/store/store';
import { startTestServer, usageFixture, type TestServer } from '../../support/http';

const JSON_HEADERS = { 'content-type': 'application/json' };

describe('HTTP server', () => {
  let server: TestServer;

  beforeAll(async () => {
    server = await startTestServer();
  });
  afterAll(async () => {
    await server.close();
  });

  it('listens on the port the OS picked and names its GraphQL URL', () => {
    expect(server.port).toBeGreaterThan(0);
    expect(server.url).toBe(`http://127.0.0.1:${server.port}/graphql`);
  });

  it('answers /healthz while running', async () => {
    const res = await fetch(`${server.origin}/healthz`);
    expect(res.status).toBe(200);
    expect(await res.text()).toBe('ok\n');
  });

  it('answers /readyz 200 when the store is readable and 503 with the reason when not', async () => {
    const ready = await fetch(`${server.origin}/readyz`);
    expect(ready.status).toBe(200);

    server.setStoreProblem('data directory /srv/data is missing');
    try {
      const notReady = await fetch(`${server.origin}/readyz`);
      expect(notReady.status).toBe(503);
      expect(await notReady.text()).toContain('data directory /srv/data is missing');
    } finally {
      server.setStoreProblem(undefined);
    }
  });

  it('answers /readyz 503 when the store does not answer in time', async () => {
    const slow = await startTestServer({
      store: { ...usageFixture().store, checkReadable: () => new Promise(() => undefined) },
      readinessTimeoutMs: 50,
    });
    try {
      const res = await fetch(`${slow.origin}/readyz`);
      expect(res.status).toBe(503);
      expect(await res.text()).toContain('did not answer within 50 ms');
    } finally {
      await slow.close();
    }
  });

  it('serves its own metrics, counting requests by route and status', async () => {
    await fetch(`${server.origin}/healthz`);
    await fetch(`${server.origin}/no/such/page`);
    await postGraphQL(server, { query: '{ usageKeys(level: PROJECT) }' });

    const res = await fetch(`${server.origin}/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('text/plain');
    const text = await res.text();
    for (const name of [
      'carbonledger_http_requests_total',
      'carbonledger_http_request_duration_seconds',
      'carbonledger_graphql_operations_total',
      'carbonledger_ingest_runs_total',
      'carbonledger_ingest_failed_hours_total',
      'carbonledger_last_ok_hour_timestamp_seconds',
      'process_cpu_seconds_total',
    ]) {
      expect(text).toContain(name);
    }
    expect(text).toMatch(/carbonledger_http_requests_total\{route="healthz",status="200"\} [1-9]/);
    expect(text).toMatch(/carbonledger_http_requests_total\{route="unmatched",status="404"\} [1-9]/);
    expect(text).toMatch(/carbonledger_graphql_operations_total\{operation="usageKeys",outcome="ok"\} [1-9]/);
  });

  it('counts GraphQL operations by root field and outcome', async () => {
    const broken = await startTestServer({ store: brokenStore() });
    try {
      const count = async (operation: string, outcome: string) =>
        (await broken.metrics.graphqlOperations.get()).values.find(
          (v) => v.labels.operation === operation && v.labels.outcome === outcome,
        )?.value ?? 0;

      await postGraphQL(broken, { query: '{ usageKeys(level: PROJECT) }' });
      await postGraphQL(broken, { query: '{ noSuchField }' });
      await postGraphQL(broken, {
        query:
          'query Both { ...Keys machineMetrics { id } } fragment Keys on Query { usageKeys(level: USER) }',
      });

      expect(await count('usageKeys', 'error')).toBe(2);
      expect(await count('machineMetrics', 'error')).toBe(1);
      expect(await count('none', 'invalid')).toBe(1);
    } finally {
      await broken.close();
    }
  });

  it('answers unknown routes 404 and wrong methods 405', async () => {
    expect((await fetch(`${server.origin}/nothing`)).status).toBe(404);
    expect((await fetch(`${server.origin}/playground/../package.json`)).status).toBe(404);
    expect((await fetch(`${server.origin}/playground/nothing.js`)).status).toBe(404);
    const wrongMethod = await fetch(`${server.origin}/healthz`, { method: 'POST' });
    expect(wrongMethod.status).toBe(405);
    expect(wrongMethod.headers.get('allow')).toBe('GET, HEAD');
  });

  it('refuses a body over the limit with 413, announced or streamed', async () => {
    const query = `{ usageKeys(level: PROJECT) } # ${'x'.repeat(2 * 1024 * 1024)}`;
    const announced = await fetch(server.url, {
      method: 'POST',
      headers: JSON_HEADERS,
      body: JSON.stringify({ query }),
    });
    expect(announced.status).toBe(413);

    const streamed = await rawPost(server, JSON.stringify({ query }));
    expect(streamed.status).toBe(413);

    // The server is still fine afterwards.
    const after = await postGraphQL(server, { query: '{ usageKeys(level: PROJECT) }' });
    expect(after.status).toBe(200);
  });

  it('answers a body that is not JSON with 400', async () => {
    const res = await fetch(server.url, { method: 'POST', headers: JSON_HEADERS, body: '{"query": ' });
    expect(res.status).toBe(400);
    expect((await res.json()).errors[0].extensions.code).toBe('BAD_REQUEST');
  });

  it('runs a query sent by a plain GET, as curl sends it (no preflight header)', async () => {
    const params = new URLSearchParams({ query: '{ usageKeys(level: PROJECT) }' });
    const res = await fetch(`${server.url}?${params}`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ data: { usageKeys: ['IDAaaS', 'ISIS'] } });
  });

  it('refuses a GET a browser sends from another site (Fetch Metadata), unless it is preflighted', async () => {
    const params = new URLSearchParams({ query: '{ usageKeys(level: PROJECT) }' });
    for (const site of ['cross-site', 'same-site']) {
      const res = await fetch(`${server.url}?${params}`, { headers: { 'sec-fetch-site': site } });
      expect({ site, status: res.status }).toEqual({ site, status: 400 });
      expect(await res.text()).toContain('Cross-Site Request Forgery');
    }
    const sameOrigin = await fetch(`${server.url}?${params}`, {
      headers: { 'sec-fetch-site': 'same-origin' },
    });
    expect(sameOrigin.status).toBe(200);
    const preflighted = await fetch(`${server.url}?${params}`, {
      headers: { 'sec-fetch-site': 'cross-site', 'apollo-require-preflight': 'true' },
    });
    expect(preflighted.status).toBe(200);
  });

  it('runs no mutation over GET', async () => {
    const params = new URLSearchParams({ query: 'mutation { setSummaryEmail(address: null) { user } }' });
    const res = await fetch(`${server.url}?${params}`);
    expect(res.status).toBe(405);
    expect((await res.json()).errors[0].message).toContain('only support query operations');
  });

  it('blocks a POST a browser could send cross-site (a simple content type), but runs a JSON POST', async () => {
    const form = await fetch(server.url, {
      method: 'POST',
      headers: { 'content-type': 'text/plain' },
      body: JSON.stringify({ query: '{ usageKeys(level: PROJECT) }' }),
    });
    expect(form.status).toBe(400);
    expect(await form.text()).toContain('Cross-Site Request Forgery');

    const json = await postGraphQL(server, { query: '{ usageKeys(level: PROJECT) }' });
    expect(json.status).toBe(200);
    expect(await json.json()).toEqual({ data: { usageKeys: ['IDAaaS', 'ISIS'] } });
  });

  it('masks an internal error for the client and logs it with its stack', async () => {
    const broken = await startTestServer({ store: brokenStore() });
    try {
      const res = await postGraphQL(broken, { query: '{ usageKeys(level: PROJECT) }' });
      const body = await res.json();
      expect(body.errors[0]).toMatchObject({
        message: 'Internal server error',
        extensions: { code: 'INTERNAL_SERVER_ERROR' },
      });
      expect(JSON.stringify(body)).not.toContain('disk on fire');
      expect(JSON.stringify(body)).not.toContain('stacktrace');

      const logged = broken.logs.find((line) => line.msg === 'graphql: internal error');
      expect(logged).toMatchObject({
        level: 'error',
        error: 'disk on fire at /var/secret',
        path: ['usageKeys'],
      });
      expect(logged?.stack).toContain('Error: disk on fire');
    } finally {
      await broken.close();
    }
  });

  it('treats a store that throws instead of rejecting as not ready', async () => {
    const throwing = await startTestServer({
      store: {
        ...usageFixture().store,
        checkReadable: () => {
          throw new Error('not even a promise');
        },
      },
    });
    try {
      const res = await fetch(`${throwing.origin}/readyz`);
      expect(res.status).toBe(503);
      expect(await res.text()).toContain('not even a promise');
    } finally {
      await throwing.close();
    }
  });

  it('answers 500, logs and keeps running when a route fails', async () => {
    const metrics = createServiceMetrics();
    jest.spyOn(metrics.registry, 'metrics').mockRejectedValue(new Error('registry broke'));
    const failing = await startTestServer({ metrics });
    try {
      const res = await fetch(`${failing.origin}/metrics`);
      expect(res.status).toBe(500);
      expect(await res.text()).not.toContain('registry broke');
      expect(failing.logs).toContainEqual(
        expect.objectContaining({ level: 'error', msg: 'http: request failed', error: 'registry broke' }),
      );
      expect((await fetch(`${failing.origin}/healthz`)).status).toBe(200);
    } finally {
      await failing.close();
    }
  });

  it('answers a GraphQL client a coded JSON 500 when the endpoint fails before Apollo runs', async () => {
    const failing = await startTestServer({ storeVersion: () => Promise.reject(new Error('version broke')) });
    try {
      const res = await fetch(failing.url, {
        method: 'POST',
        headers: JSON_HEADERS,
        body: JSON.stringify({ query: '{ usageKeys(level: PROJECT) }' }),
      });
      expect(res.status).toBe(500);
      expect(await res.json()).toEqual({
        errors: [{ message: 'Internal server error', extensions: { code: 'INTERNAL_SERVER_ERROR' } }],
      });
      expect(failing.logs).toContainEqual(expect.objectContaining({ error: 'version broke' }));
    } finally {
      await failing.close();
    }
  });

  it('answers a request target that is not a URL with 400', async () => {
    const res = await rawRequest(server, 'GET http://[::1 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    expect(res).toMatch(/^HTTP\/1\.1 400 [\s\S]*bad request target/);
  });

  it('closes idle keep-alive connections when it stops', async () => {
    const closing = await startTestServer();
    const idleConnection = await new Promise<{ status: number; socketClosed: Promise<void> }>(
      (resolve, reject) => {
        const req = request(`${closing.origin}/healthz`, { headers: { connection: 'keep-alive' } }, (res) => {
          res.resume();
          const socketClosed = new Promise<void>((done) => req.socket!.once('close', () => done()));
          res.once('end', () => resolve({ status: res.statusCode!, socketClosed }));
        });
        req.once('error', reject);
        req.end();
      },
    );
    expect(idleConnection.status).toBe(200);

    const started = Date.now();
    await closing.close();
    await idleConnection.socketClosed;
    expect(Date.now() - started).toBeLessThan(2000);
  });
});

/** Sends bytes as they are and resolves with the whole answer, for requests fetch would refuse to send. */
function rawRequest(server: TestServer, bytes: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(server.port, '127.0.0.1', () => socket.end(bytes));
    let answer = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => (answer += chunk));
    socket.once('end', () => resolve(answer));
    socket.once('error', reject);
  });
}

/** A store whose key listing fails the way a broken disk would. */
function brokenStore(): Store {
  return {
    ...usageFixture().store,
    listKeys: () => Promise.reject(new Error('disk on fire at /var/secret')),
  };
}

function postGraphQL(server: TestServer, body: unknown): Promise<Response> {
  return fetch(server.url, { method: 'POST', headers: JSON_HEADERS, body: JSON.stringify(body) });
}

/** A POST with a chunked body (no content-length), so the limit is hit while streaming. */
function rawPost(server: TestServer, body: string): Promise<{ status: number }> {
  return new Promise((resolve, reject) => {
    const req = request(server.url, { method: 'POST', headers: JSON_HEADERS }, (res) => {
      res.resume();
      resolve({ status: res.statusCode! });
    });
    req.once('error', reject);
    const chunk = 64 * 1024;
    for (let at = 0; at < body.length; at += chunk) req.write(body.slice(at, at + chunk));
    req.end();
  });
}
