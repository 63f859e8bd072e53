import { jsonNesting, MAX_JSON_NESTING, requestJsonProblem } from '../../../src/http/request-json';
import { startTestServer, type TestServer } from '../../support/http';

/** JSON text nesting `levels` arrays (or objects) around a leaf, written by hand: too deep for JSON.stringify. */
const deepArray = (levels: number, leaf = '"x"') => `${'['.repeat(levels)}${leaf}${']'.repeat(levels)}`;
const deepObject = (levels: number, key = 'a') => `${`{"${key}":`.repeat(levels)}1${'}'.repeat(levels)}`;

describe('jsonNesting', () => {
  it('counts arrays and objects, not scalars', () => {
    expect(jsonNesting('x')).toBe(0);
    expect(jsonNesting(null)).toBe(0);
    expect(jsonNesting([])).toBe(1);
    expect(jsonNesting({ a: [1, { b: [] }] })).toBe(4);
    expect(jsonNesting([[1], [[[2]]], 3])).toBe(4);
  });

  it('walks 100,000 levels without recursion, and stops past the bound it is given', () => {
    const deep = JSON.parse(deepArray(100_000));
    expect(jsonNesting(deep)).toBe(100_000);
    expect(jsonNesting(deep, 10)).toBe(11);
  });
});

describe('requestJsonProblem', () => {
  it('names the field of a body nested too deeply', () => {
    const body = JSON.parse(`{"query":"{ a }","extensions":${deepObject(MAX_JSON_NESTING + 1)}}`);
    expect(requestJsonProblem(body, '')).toBe(
      `The request's "extensions" nests arrays or objects more than ${MAX_JSON_NESTING} levels deep; this API's inputs nest at most 2`,
    );
  });

  it('takes a body just within the bound, and a body that is text', () => {
    const body = JSON.parse(`{"query":"{ a }","variables":${deepObject(MAX_JSON_NESTING)}}`);
    expect(requestJsonProblem(body, '')).toBeUndefined();
    expect(requestJsonProblem(deepArray(10_000), '')).toBeUndefined();
  });

  it('checks the JSON parameters of a query string, and leaves JSON that does not parse to Apollo', () => {
    const search = new URLSearchParams({ query: '{ a }', variables: deepArray(MAX_JSON_NESTING + 1) });
    expect(requestJsonProblem(undefined, `?${search}`)).toContain(`The query string's "variables" nests`);
    expect(requestJsonProblem(undefined, `?variables=${'%5B'.repeat(100)}`)).toBeUndefined();
  });
});

describe('requests whose JSON nests deeply', () => {
  let server: TestServer;

  // The answer cache is on, as in `serve`: building its key once threw on such requests.
  beforeAll(async () => {
    server = await startTestServer({ storeVersion: async () => 'v1' });
  });
  afterAll(async () => {
    await server.close();
  });

  const QUERY = JSON.stringify('{ usageKeys(level: PROJECT) }');
  const BODIES: Array<[string, string, string]> = [
    ['variables of deep arrays', `{"query":${QUERY},"variables":{"keys":${deepArray(5000)}}}`, '"variables"'],
    ['variables of deep objects', `{"query":${QUERY},"variables":${deepObject(5000)}}`, '"variables"'],
    ['extensions', `{"query":${QUERY},"extensions":${deepObject(5000, 'persistedQuery')}}`, '"extensions"'],
    [
      'an operationName of deep arrays',
      `{"query":${QUERY},"operationName":${deepArray(5000)}}`,
      '"operationName"',
    ],
    [
      'an operationName of deep objects',
      `{"query":${QUERY},"operationName":${deepObject(5000)}}`,
      '"operationName"',
    ],
    ['a query of deep arrays', `{"query":${deepArray(5000)}}`, '"query"'],
    ['a whole body of deep arrays', deepArray(100_000), 'The request body'],
    [
      'a batch of deep operations',
      `[{"query":${QUERY},"variables":${deepObject(5000)}}]`,
      'The request body',
    ],
  ];

  async function expectRefused(res: Response, naming: string): Promise<void> {
    expect(res.status).toBe(400);
    expect(res.headers.get('content-type')).toContain('application/json');
    const body = await res.json();
    expect(body.errors).toHaveLength(1);
    expect(body.errors[0].extensions.code).toBe('BAD_REQUEST');
    expect(body.errors[0].message).toContain(naming);
    expect(body.errors[0].message).toContain(`more than ${MAX_JSON_NESTING} levels deep`);
  }

  it.each(BODIES)('refuses %s with a coded 400 naming the field', async (_what, body, naming) => {
    const res = await fetch(server.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body,
    });
    await expectRefused(res, naming);
  });

  it.each(['variables', 'extensions'])('refuses a GET whose %s nest deeply', async (name) => {
    // Node refuses request heads over 16 KiB, so a URL holds fewer levels.
    const search = new URLSearchParams({ query: '{ usageKeys(level: PROJECT) }', [name]: deepArray(1000) });
    const res = await fetch(`${server.url}?${search}`, { headers: { 'apollo-require-preflight': 'true' } });
    await expectRefused(res, `"${name}"`);
  });

  it('answers a key of 500,000 characters, and variables just within the bound, as usual', async () => {
    const body = `{"query":${QUERY},"variables":{"${'k'.repeat(500_000)}":${deepObject(MAX_JSON_NESTING - 1)}}}`;
    const res = await fetch(server.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body,
    });
    expect(await res.json()).toEqual({ data: { usageKeys: ['IDAaaS', 'ISIS'] } });
  });

  it('logs no failure and keeps serving', async () => {
    expect(server.logs.filter((line) => line.level === 'error')).toEqual([]);
    expect((await fetch(`${server.origin}/healthz`)).status).toBe(200);
  });
});
