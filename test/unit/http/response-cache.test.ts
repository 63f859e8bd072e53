import { createHash } from 'node:crypto';

import { ResponseCache } from '../../../src/http/response-cache';
import { FIXTURE_DAY, startTestServer, usageFixture, type TestServer } from '../../support/http';
import type { CountingStore } from '../../support/usage-store';

const SERIES = `query($key: String!) {
  usageSeries(level: PROJECT, key: $key, from: "${FIXTURE_DAY}T00:00:00Z", to: "${FIXTURE_DAY}T12:00:00Z", granularity: HOUR) {
    total { busyKwh }
  }
}`;

describe('answer cache of usage queries', () => {
  let server: TestServer;
  let fixture: ReturnType<typeof usageFixture>;
  let version: string | undefined;

  beforeAll(async () => {
    fixture = usageFixture();
    server = await startTestServer({ store: fixture.store, storeVersion: async () => version });
  });
  afterAll(async () => {
    await server.close();
  });

  const reads = () => (fixture.store as CountingStore).calls.readDays.length;
  const ask = async (query: string, variables: Record<string, unknown> = {}, headers = {}) => {
    const response = await fetch(server.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body: JSON.stringify({ query, variables }),
    });
    return (await response.json()) as { data?: Record<string, unknown>; errors?: unknown[] };
  };
  const busyKwh = (answer: { data?: Record<string, unknown> }) =>
    (answer.data?.usageSeries as { total: { busyKwh: number } }).total.busyKwh;

  it('replays an answer while the store version holds, and executes again once it changes', async () => {
    version = 'v1';
    expect(busyKwh(await ask(SERIES, { key: 'IDAaaS' }))).toBe(1.5);
    const afterFirst = reads();
    expect(busyKwh(await ask(SERIES, { key: 'IDAaaS' }))).toBe(1.5);
    expect(reads()).toBe(afterFirst);

    fixture.setBusyKwh('IDAaaS', 7);
    // Same version: the old answer stands (the version is what says the store changed).
    expect(busyKwh(await ask(SERIES, { key: 'IDAaaS' }))).toBe(1.5);
    version = 'v2';
    expect(busyKwh(await ask(SERIES, { key: 'IDAaaS' }))).toBe(7);
    expect(reads()).toBeGreaterThan(afterFirst);
  });

  it('keeps answers apart by variables', async () => {
    version = 'v3';
    expect(busyKwh(await ask(SERIES, { key: 'IDAaaS' }))).toBe(7);
    expect(busyKwh(await ask(SERIES, { key: 'ISIS' }))).toBe(3);
  });

  it('executes every time while the store gives no version', async () => {
    version = undefined;
    await ask(SERIES, { key: 'IDAaaS' });
    const before = reads();
    await ask(SERIES, { key: 'IDAaaS' });
    expect(reads()).toBeGreaterThan(before);
  });

  it('never keeps answers that depend on more than the store, nor errors', async () => {
    version = 'v4';
    const mixed = `query($key: String!) {
      usageSeries(level: PROJECT, key: $key, from: "${FIXTURE_DAY}T00:00:00Z", to: "${FIXTURE_DAY}T12:00:00Z", granularity: HOUR) { total { busyKwh } }
      machineMetrics(days: 1) { machineName }
    }`;
    await ask(mixed, { key: 'IDAaaS' });
    const before = reads();
    await ask(mixed, { key: 'IDAaaS' });
    expect(reads()).toBeGreaterThan(before);

    const bad = await ask(SERIES.replace(`${FIXTURE_DAY}T12`, `${FIXTURE_DAY}T00`), { key: 'IDAaaS' });
    expect(bad.errors).toBeDefined();
    const again = await ask(SERIES.replace(`${FIXTURE_DAY}T12`, `${FIXTURE_DAY}T00`), { key: 'IDAaaS' });
    expect(again.errors).toBeDefined();
  });
});

describe('answer cache with scoped tokens', () => {
  const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');
  let server: TestServer;
  const fixture = usageFixture();
  const reads = () => (fixture.store as CountingStore).calls.readDays.length;

  beforeAll(async () => {
    // Two tokens of one name (a config from before names had to be unique, or one built in code):
    // the cache must tell them apart by what they may see.
    server = await startTestServer({
      store: fixture.store,
      storeVersion: async () => 'v1',
      auth: {
        anonymous: false,
        tokens: [
          { name: 'token-2026-11-27', sha256: sha256('idaaas-secret'), projects: ['IDAaaS'] },
          { name: 'token-2026-11-27', sha256: sha256('isis-secret'), projects: ['ISIS'] },
          { name: 'isis-too', sha256: sha256('isis-too-secret'), projects: ['ISIS'] },
        ],
      },
    });
  });
  afterAll(async () => {
    await server.close();
  });

  const ask = async (token: string, query: string) => {
    const response = await fetch(server.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify({ query }),
    });
    return (await response.json()) as {
      data?: Record<string, unknown>;
      errors?: Array<{ extensions: { code: string } }>;
    };
  };
  const series = (key: string) =>
    SERIES.replace('query($key: String!)', 'query').replace('key: $key', `key: ${JSON.stringify(key)}`);

  it('never replays one scope’s answer to a token of another scope with the same name', async () => {
    expect(await ask('idaaas-secret', '{ usageKeys(level: PROJECT) }')).toEqual({
      data: { usageKeys: ['IDAaaS'] },
    });
    expect(await ask('isis-secret', '{ usageKeys(level: PROJECT) }')).toEqual({
      data: { usageKeys: ['ISIS'] },
    });
    expect((await ask('idaaas-secret', series('IDAaaS'))).data).toBeDefined();
    const refused = await ask('isis-secret', series('IDAaaS'));
    expect(refused.data ?? null).toBeNull();
    expect(refused.errors?.[0].extensions.code).toBe('FORBIDDEN');
  });

  it('shares answers between tokens that see the same', async () => {
    await ask('isis-secret', series('ISIS'));
    const before = reads();
    expect((await ask('isis-too-secret', series('ISIS'))).data).toBeDefined();
    expect(reads()).toBe(before);
  });
});

describe('ResponseCache', () => {
  const answer = (body: string) => ({ status: 200, headers: [], body, rootFields: ['usageKeys'] });

  it('forgets an answer of another version', () => {
    const cache = new ResponseCache(1000);
    cache.set('k', 'v1', answer('a'));
    expect(cache.get('k', 'v1')?.body).toBe('a');
    expect(cache.get('k', 'v2')).toBeUndefined();
    expect(cache.get('k', 'v1')).toBeUndefined();
  });

  it('evicts the least recently used beyond its size', () => {
    // Each entry counts 10 characters (key and body); 44 hold four.
    const cache = new ResponseCache(44);
    for (const key of ['a', 'b', 'c']) cache.set(key, 'v', answer('x'.repeat(9)));
    cache.get('a', 'v');
    cache.set('d', 'v', answer('x'.repeat(9)));
    cache.set('e', 'v', answer('x'.repeat(9)));
    expect(cache.get('b', 'v')).toBeUndefined();
    for (const key of ['a', 'c', 'd', 'e']) expect(cache.get(key, 'v')).toBeDefined();
  });
});
