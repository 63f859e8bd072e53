import { startTestServer, type TestServer } from '../../support/http';

/** Requests the fuzz test (test/e2e/fuzz-queries.test.ts) found answered "Internal server error". */
describe('odd but harmless operations', () => {
  let server: TestServer;

  beforeAll(async () => {
    server = await startTestServer();
  });
  afterAll(async () => {
    await server.close();
  });

  async function post(body: string) {
    const res = await fetch(server.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body,
    });
    return { status: res.status, body: await res.json() };
  }

  it('refuses a subscription with 400 GRAPHQL_VALIDATION_FAILED: the API has none', async () => {
    const { status, body } = await post(
      JSON.stringify({ query: 'subscription { usageKeys(level: PROJECT) }' }),
    );
    expect(status).toBe(400);
    expect(body.errors).toEqual([
      expect.objectContaining({
        message: 'This API has no subscription operations: it answers queries and mutations',
        extensions: { code: 'GRAPHQL_VALIDATION_FAILED' },
      }),
    ]);
    expect(server.logs.filter((line) => line.level === 'error')).toEqual([]);
  });

  it('refuses a query field asked as a mutation, and answers the mutation with FORBIDDEN for a principal with no user', async () => {
    const wrong = await post(JSON.stringify({ query: 'mutation { usageKeys(level: PROJECT) }' }));
    expect(wrong.status).toBe(400);
    expect(wrong.body.errors[0]).toMatchObject({ extensions: { code: 'GRAPHQL_VALIDATION_FAILED' } });
    const anonymous = await post(
      JSON.stringify({ query: 'mutation { setSummaryEmail(address: "a@example.org") { user address } }' }),
    );
    expect(anonymous.status).toBe(200);
    expect(anonymous.body.errors[0]).toMatchObject({ extensions: { code: 'FORBIDDEN' } });
    expect(server.logs.filter((line) => line.level === 'error')).toEqual([]);
  });

  it('answers a key that is not well-formed Unicode (a lone surrogate) with MISSING buckets and a distinct id', async () => {
    const query = `query ($key: String!) {
      usageSeries(level: PROJECT, key: $key, from: "2025-09-21T10:00:00Z", to: "2025-09-21T11:00:00Z", granularity: HOUR) {
        id key buckets { id status }
      }
    }`;
    // Written by hand: JSON.stringify would escape the surrogate the same way, but say so plainly.
    const { status, body } = await post(`{"query":${JSON.stringify(query)},"variables":{"key":"a\\ud800b"}}`);
    expect(status).toBe(200);
    expect(body.errors).toBeUndefined();
    const series = body.data.usageSeries;
    expect(series.key).toBe('a\ud800b');
    expect(series.id).toBe(
      'usage-series/PROJECT/a%ud800b/HOUR/2025-09-21T10:00:00.000Z/2025-09-21T11:00:00.000Z',
    );
    expect(series.buckets).toEqual([
      { id: 'usage-bucket/PROJECT/a%ud800b/HOUR/2025-09-21T10:00:00.000Z', status: 'MISSING' },
    ]);
  });
  it('refuses an operationName the document does not hold with 400 BAD_REQUEST naming it, cut short', async () => {
    const { status, body } = await post(
      JSON.stringify({ query: '{ usageKeys(level: PROJECT) }', operationName: `nope${'['.repeat(5000)}` }),
    );
    expect(status).toBe(400);
    expect(body.errors).toEqual([
      {
        message: `operationName: the document holds no operation named "nope${'['.repeat(76)}"…`,
        extensions: { code: 'BAD_REQUEST' },
      },
    ]);
  });

  it('refuses a document of several operations and no operationName with 400 BAD_REQUEST', async () => {
    const { status, body } = await post(
      JSON.stringify({ query: 'query A { __typename } query B { __typename }' }),
    );
    expect(status).toBe(400);
    expect(body.errors[0]).toEqual({
      message: 'The document holds several operations: name the one to run in operationName',
      extensions: { code: 'BAD_REQUEST' },
    });
    expect(server.logs.filter((line) => line.level === 'error')).toEqual([]);
  });
});
