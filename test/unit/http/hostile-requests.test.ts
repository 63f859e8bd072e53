import { getIntrospectionQuery } from 'graphql';

import { startTestServer, type TestServer, usageFixture } from '../../support/http';

const JSON_HEADERS = { 'content-type': 'application/json' };

function post(server: TestServer, body: unknown): Promise<Response> {
  return fetch(server.url, { method: 'POST', headers: JSON_HEADERS, body: JSON.stringify(body) });
}

describe('hostile requests', () => {
  let server: TestServer;

  beforeAll(async () => {
    server = await startTestServer();
  });
  afterAll(async () => {
    await server.close();
  });

  it('refuses a batch of operations sent as a JSON array', async () => {
    const operation = { query: '{ usageKeys(level: PROJECT) }' };
    const res = await post(server, [operation, operation]);
    expect(res.status).toBe(400);
    expect(await res.text()).toContain('batching');
  });

  it('refuses a document of more tokens than the parser reads, before validating it', async () => {
    const query = `{ ${Array.from({ length: 7000 }, (_, i) => `a${i}: __typename`).join(' ')} }`;
    const res = await post(server, { query });
    expect(res.status).toBe(400);
    const body = await res.json();
    expect(body.errors[0].extensions.code).toBe('GRAPHQL_PARSE_FAILED');
    expect(body.errors[0].message).toContain('20000 tokens');
  });

  it('answers the standard introspection query, as the playground sends it', async () => {
    const res = await post(server, { query: getIntrospectionQuery({ descriptions: true }) });
    expect(res.status).toBe(200);
    expect((await res.json()).data.__schema.queryType.name).toBe('Query');
  });

  it('refuses a fragment bomb at the root (2^24 copies of a field in under 1 KB) and goes on answering', async () => {
    // Every plugin that lists the root fields walks each fragment once (root-fields.test.ts holds
    // it); expanding the copies stalled the server for seconds.
    const levels = 24;
    const fragments = Array.from(
      { length: levels },
      (_, i) => `fragment F${i} on Query { ...F${i + 1} ...F${i + 1} }`,
    ).join(' ');
    const query = `{ ...F0 } ${fragments} fragment F${levels} on Query { usageKeys(level: PROJECT) }`;
    const res = await post(server, { query });
    expect(res.status).toBe(400);
    expect((await res.json()).errors[0].extensions.code).toBe('QUERY_TOO_COMPLEX');
    const after = await post(server, { query: '{ usageKeys(level: PROJECT) }' });
    expect(after.status).toBe(200);
  });

  it('counts an operation refused by a limit as invalid: it never ran', async () => {
    const count = async () =>
      (await server.metrics.graphqlOperations.get()).values.find(
        (v) => v.labels.operation === 'none' && v.labels.outcome === 'invalid',
      )?.value ?? 0;
    const before = await count();
    const res = await post(server, { query: `{ ${'usageKeys(level: PROJECT) '.repeat(101)}}` });
    expect(res.status).toBe(400);
    expect(await count()).toBe(before + 1);
  });
});

describe('the execution deadline', () => {
  it('answers QUERY_TIMEOUT instead of waiting for a store that never answers', async () => {
    const never = () => new Promise<never>(() => undefined);
    const server = await startTestServer({
      store: { ...usageFixture().store, listKeys: never, readDays: never, readLedger: never },
      executionTimeoutMs: 100,
    });
    try {
      const started = Date.now();
      const res = await post(server, {
        query: `{ usageKeys(level: PROJECT)
                  usageSeries(level: PROJECT, key: "ISIS", from: "2025-09-21T10:00:00Z", to: "2025-09-21T11:00:00Z", granularity: HOUR) { id } }`,
      });
      expect(Date.now() - started).toBeLessThan(5000);
      expect(res.status).toBe(200);
      const body = await res.json();
      expect(body.data).toBeNull();
      // Both root fields are non-null: the first to fail nulls the answer, and its error is the one shown.
      expect(body.errors).toEqual([expect.objectContaining({ extensions: { code: 'QUERY_TIMEOUT' } })]);
      expect(body.errors[0].message).toContain('longer than 100 ms');
      // The server carries on.
      expect((await fetch(`${server.origin}/healthz`)).status).toBe(200);
    } finally {
      await server.close();
    }
  });

  it('leaves an operation that finishes in time alone', async () => {
    const server = await startTestServer({ executionTimeoutMs: 5000 });
    try {
      const res = await post(server, { query: '{ usageKeys(level: PROJECT) }' });
      expect(await res.json()).toEqual({ data: { usageKeys: ['IDAaaS', 'ISIS'] } });
    } finally {
      await server.close();
    }
  });
});
