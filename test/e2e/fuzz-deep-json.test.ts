import { startTestServer, type TestServer } from '../support/http';

/** Request bodies and documents nested or sized to break a parser: a coded 4xx or the answer, never a 5xx. */
describe('deep and odd JSON of several shapes', () => {
  let server: TestServer;

  // With the answer cache on, as `serve` runs: its key is built from the request's JSON.
  beforeAll(async () => {
    server = await startTestServer({ executionTimeoutMs: 5000, storeVersion: async () => 'v1' });
  });
  afterAll(async () => {
    await server.close();
  });

  const QUERY = JSON.stringify('{ usageKeys(level: PROJECT) }');
  /** JSON text nesting `levels` deep, written by hand: JSON.stringify itself overflows on such values. */
  const nest = (levels: number, open: string, close: string, leaf = '1') =>
    `${open.repeat(levels)}${leaf}${close.repeat(levels)}`;
  const alternating = (levels: number) => nest(levels / 2, '[{"a":', '}]');
  const SHAPES: Array<[string, string]> = [
    ['variables: deep arrays', `{"query":${QUERY},"variables":{"v":${nest(5000, '[', ']')}}}`],
    ['variables: deep objects', `{"query":${QUERY},"variables":${nest(5000, '{"a":', '}')}}`],
    ['variables: arrays and objects in turn', `{"query":${QUERY},"variables":{"v":${alternating(20_000)}}}`],
    [
      'variables: a wide list of deep lists',
      `{"query":${QUERY},"variables":{"v":[${Array(50)
        .fill(nest(200, '[', ']'))
        .join(',')}]}}`,
    ],
    ['extensions: deep objects', `{"query":${QUERY},"extensions":${nest(5000, '{"persistedQuery":', '}')}}`],
    ['operationName: deep arrays', `{"query":${QUERY},"operationName":${nest(5000, '[', ']')}}`],
    ['query: deep objects instead of text', `{"query":${nest(5000, '{"q":', '}')}}`],
    ['the body: deep arrays', nest(100_000, '[', ']')],
    [
      'a batch of deep operations',
      `[${Array(3)
        .fill(`{"query":${QUERY},"variables":${nest(3000, '{"a":', '}')}}`)
        .join(',')}]`,
    ],
    ['a key of 700,000 characters', `{"query":${QUERY},"variables":{"${'k'.repeat(700_000)}":1}}`],
    [
      '100,000 keys',
      `{"query":${QUERY},"variables":{${Array.from({ length: 100_000 }, (_, i) => `"k${i}":1`).join(',')}}}`,
    ],
    [
      'an input object literal nested in the document',
      JSON.stringify({ query: `{ usageKeys(level: PROJECT, x: ${nest(3000, '{a:', '}')}) }` }),
    ],
    [
      'a list literal nested in the document',
      JSON.stringify({ query: `{ usageKeys(level: PROJECT, x: ${nest(3000, '[', ']')}) }` }),
    ],
  ];

  it.each(SHAPES)(
    '%s: a coded 4xx (or the answer), never a 5xx, and the server goes on',
    async (_shape, body) => {
      const res = await fetch(server.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body,
      });
      expect(res.status).toBeLessThan(500);
      const answer = (await res.json()) as {
        data?: unknown;
        errors?: Array<{ extensions?: { code?: string } }>;
      };
      if (res.status >= 400) expect(answer.errors?.[0].extensions?.code).toMatch(/^[A-Z_]+$/);
      else expect(answer).toEqual({ data: { usageKeys: ['IDAaaS', 'ISIS'] } });
      expect((await fetch(`${server.origin}/healthz`)).status).toBe(200);
    },
  );

  it.each(['variables', 'extensions', 'operationName'])(
    'a GET whose %s nest deeply: a coded 4xx',
    async (name) => {
      const search = new URLSearchParams({
        query: '{ usageKeys(level: PROJECT) }',
        [name]: nest(1000, '[', ']'),
      });
      const res = await fetch(`${server.url}?${search}`, { headers: { 'apollo-require-preflight': 'true' } });
      expect(res.status).toBeGreaterThanOrEqual(400);
      expect(res.status).toBeLessThan(500);
      expect(
        ((await res.json()) as { errors: Array<{ extensions: { code: string } }> }).errors[0].extensions.code,
      ).toMatch(/^(BAD_REQUEST|QUERY_TOO_DEEP)$/);
    },
  );

  it('fragments in a chain as long as the token limit allows, and in a cycle: coded 4xx or the answer', async () => {
    const chainOf = (n: number) =>
      `{ ...a0 } ${Array.from({ length: n }, (_, i) => `fragment a${i} on Query { ...a${i + 1} }`).join(' ')} fragment a${n} on Query { __typename }`;
    const cycle = `{ ...A } fragment A on Query { ...B } fragment B on Query { ...A }`;
    for (const query of [chainOf(2400), chainOf(1500), cycle]) {
      const res = await fetch(server.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ query }),
      });
      expect(res.status).toBeLessThan(500);
      const answer = (await res.json()) as {
        data?: unknown;
        errors?: Array<{ extensions?: { code?: string } }>;
      };
      if (answer.errors)
        expect(answer.errors[0].extensions?.code).toMatch(/^GRAPHQL_(PARSE|VALIDATION)_FAILED$/);
      else expect(answer.data).toEqual({ __typename: 'Query' });
    }
    expect(server.logs.filter((line) => line.level === 'error')).toEqual([]);
    expect((await fetch(`${server.origin}/healthz`)).status).toBe(200);
  });

  it('logged no failure', () => {
    expect(server.logs.filter((line) => line.level === 'error')).toEqual([]);
  });
});
