import { getIntrospectionQuery } from 'graphql';

import { documentNesting, MAX_DOCUMENT_NESTING } from '../../../src/http/document-nesting';
import { startTestServer, type TestServer } from '../../support/http';

const JSON_HEADERS = { 'content-type': 'application/json' };

describe('documentNesting', () => {
  it('counts braces, brackets and parentheses, and nothing inside strings or comments', () => {
    expect(documentNesting('{ a }')).toBe(1);
    expect(documentNesting('{ a(x: [[1]]) { b } }')).toBe(4);
    expect(documentNesting('{ a(x: "{{{[[[((") }')).toBe(2);
    expect(documentNesting('{ a(x: "\\"{{{") }')).toBe(2);
    expect(documentNesting('{ a(x: """ {{{ \\""" {{{ """) }')).toBe(2);
    expect(documentNesting('# {{{{{{\n{ a }')).toBe(1);
    expect(documentNesting('}}}} { a }')).toBe(1);
  });

  it('stops counting once over the bound it is given', () => {
    expect(documentNesting('{'.repeat(1000), 10)).toBe(11);
  });

  it('leaves room for the introspection query the playground sends', () => {
    expect(documentNesting(getIntrospectionQuery({ descriptions: true }))).toBeLessThan(MAX_DOCUMENT_NESTING);
  });
});

describe('deeply nested documents', () => {
  let server: TestServer;

  beforeAll(async () => {
    server = await startTestServer();
  });
  afterAll(async () => {
    await server.close();
  });

  async function expectTooDeep(res: Response): Promise<void> {
    expect(res.status).toBe(400);
    const body = await res.json();
    expect(body.errors).toHaveLength(1);
    expect(body.errors[0].extensions.code).toBe('QUERY_TOO_DEEP');
    expect(body.errors[0].message).toBe(
      `The document nests selection sets, lists, objects or arguments more than ${MAX_DOCUMENT_NESTING} levels deep`,
    );
    expect(JSON.stringify(body)).not.toContain('call stack');
  }

  const nestedFragments = (levels: number) =>
    `{ ${'... on Query { '.repeat(levels)}__typename${' }'.repeat(levels)} }`;
  const nestedList = (levels: number) =>
    `{ usageKeys(level: PROJECT, extra: ${'['.repeat(levels)}1${']'.repeat(levels)}) }`;

  it('refuses 3,000 nested inline fragments with QUERY_TOO_DEEP, not a stack overflow', async () => {
    await expectTooDeep(
      await fetch(server.url, {
        method: 'POST',
        headers: JSON_HEADERS,
        body: JSON.stringify({ query: nestedFragments(3000) }),
      }),
    );
  });

  it('refuses a list argument nested 3,000 deep, sent by POST or by GET', async () => {
    await expectTooDeep(
      await fetch(server.url, {
        method: 'POST',
        headers: JSON_HEADERS,
        body: JSON.stringify({ query: nestedList(3000) }),
      }),
    );
    // A URL holds fewer levels: Node refuses request heads over 16 KiB.
    const url = `${server.url}?query=${encodeURIComponent(nestedList(1000))}`;
    await expectTooDeep(await fetch(url, { headers: { 'apollo-require-preflight': 'true' } }));
  });

  it('answers a document just within the bound as usual', async () => {
    const res = await fetch(server.url, {
      method: 'POST',
      headers: JSON_HEADERS,
      // The outer selection set is a level of its own.
      body: JSON.stringify({ query: nestedFragments(MAX_DOCUMENT_NESTING - 1) }),
    });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ data: { __typename: 'Query' } });
  });

  it('refuses deeply nested variables with a coded error, and keeps serving', async () => {
    const query =
      'query Q($keys: [String!]!) { usageSeriesMany(level: PROJECT, keys: $keys, from: "2025-09-21T00:00:00Z", to: "2025-09-22T00:00:00Z", granularity: DAY) { id } }';
    // Written by hand: JSON.stringify itself overflows on a value this deep.
    const deep = `${'['.repeat(5000)}"x"${']'.repeat(5000)}`;
    const res = await fetch(server.url, {
      method: 'POST',
      headers: JSON_HEADERS,
      body: `{"query":${JSON.stringify(query)},"variables":{"keys":${deep}}}`,
    });
    expect(res.status).toBe(400);
    const body = await res.json();
    expect(body.errors[0].extensions.code).toBe('BAD_REQUEST');
    expect(body.errors[0].message).toContain('"variables"');
    expect((await fetch(`${server.origin}/healthz`)).status).toBe(200);
  });
});
