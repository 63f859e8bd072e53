import { scopeIndexOf } from '../../src/auth/scope-index';
import { hashToken } from '../../src/auth/tokens';
import type { AuthConfig } from '../../src/config';
import type { Level } from '../../src/domain/levels';
import type { DayEntry, LedgerHour } from '../../src/domain/usage';
import type { ActiveWorkspaceRecord } from '../../src/services/active-workspaces';
import { FIXTURE_DAY, startTestServer, type TestServer } from '../support/http';
import { type CountingStore, dayEntry, memoryUsageStore, okHour, usage } from '../support/usage-store';

/** Tokens as `carbonledger token` hands them out; the config holds only their digests. */
const TOKENS = { ops: 'ops-secret', isis: 'isis-secret', alice: 'alice-secret' };
const digest = (token: string) => hashToken(token).toString('hex');

const AUTH: AuthConfig = {
  anonymous: false,
  tokens: [
    { name: 'ops', sha256: digest(TOKENS.ops), role: 'admin' },
    { name: 'isis', sha256: digest(TOKENS.isis), projects: ['ISIS'] },
    { name: 'alice', sha256: digest(TOKENS.alice), users: ['alice'] },
  ],
};

/** node-3 ran under both projects, so its series shows both: no single-project token may read it. */
const INSTANCE_PROJECTS = {
  'node-1:9100': ['IDAaaS'],
  'node-2:9100': ['ISIS'],
  'node-3:9100': ['IDAaaS', 'ISIS'],
};

const KEYS: Record<Level, string[]> = {
  PROJECT: ['IDAaaS', 'ISIS'],
  INSTANCE: Object.keys(INSTANCE_PROJECTS),
  USER: ['alice', 'bob'],
  EXPERIMENT: ['RB1234'],
  MACHINE: ['Artemis (Matlab)'],
};

function fixtureStore(): CountingStore {
  const entries: DayEntry[] = Object.entries(KEYS).flatMap(([level, keys]) =>
    keys.map((key) =>
      dayEntry(level as Level, key, FIXTURE_DAY, { '10:00': usage({ ARTEMIS_MATLAB: { busyKwh: 1 } }) }),
    ),
  );
  const ledger: Record<string, LedgerHour> = {
    [`${FIXTURE_DAY}T10:00:00Z`]: okHour({ 'Artemis (Matlab)': 3 }),
  };
  return memoryUsageStore({ entries, ledger });
}

const workspace = (instance: string, project: string, user: string | null): ActiveWorkspaceRecord => ({
  instance,
  host: instance.split(':')[0],
  machineName: 'Artemis (Matlab)',
  project,
  user,
  experiment: null,
  startedAt: Date.UTC(2025, 8, 21, 8),
  busyKwh: 1,
  idleKwh: 0.5,
  busyGco2eq: 200,
  idleGco2eq: 100,
});
const WORKSPACES = [
  workspace('node-1:9100', 'IDAaaS', 'alice'),
  workspace('node-2:9100', 'ISIS', 'bob'),
  workspace('node-4:9100', 'IDAaaS', 'carol'),
];

const RANGE = `from: "${FIXTURE_DAY}T00:00:00Z", to: "${FIXTURE_DAY}T12:00:00Z"`;
const series = (level: Level, key: string, granularity = 'DAY') =>
  `{ usageSeries(level: ${level}, key: ${JSON.stringify(key)}, ${RANGE}, granularity: ${granularity}) { key total { busyKwh } } }`;

interface GraphQLAnswer {
  status: number;
  headers: Headers;
  body: {
    data?: Record<string, unknown> | null;
    errors?: Array<{ message: string; extensions?: Record<string, unknown> }>;
  };
}

async function post(
  server: TestServer,
  query: string,
  token?: string,
  variables?: Record<string, unknown>,
): Promise<GraphQLAnswer> {
  const res = await fetch(server.url, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      ...(token === undefined ? {} : { authorization: `Bearer ${token}` }),
    },
    body: JSON.stringify({ query, variables }),
  });
  return { status: res.status, headers: res.headers, body: await res.json() };
}

function storeReads(store: CountingStore): number {
  return Object.values(store.calls).reduce((sum, calls) => sum + calls.length, 0);
}

describe('access control over HTTP', () => {
  let server: TestServer;
  let store: CountingStore;

  beforeAll(async () => {
    store = fixtureStore();
    server = await startTestServer({
      store,
      auth: AUTH,
      scopeIndex: scopeIndexOf(INSTANCE_PROJECTS),
      activeWorkspaces: {
        list: async () => WORKSPACES,
        status: () => ({ takenAt: 0, lastPollFailed: false, stale: false }),
      },
    });
  });
  afterAll(async () => {
    await server.close();
  });

  describe('authentication', () => {
    it.each([
      ['no Authorization header', undefined],
      ['an unknown token', 'not-a-token'],
      ['a token differing in its last character', TOKENS.ops.slice(0, -1) + 'x'],
      ['another scheme', 'Basic b3BzOnNlY3JldA=='],
    ])('answers 401 UNAUTHENTICATED to %s, naming the Bearer scheme', async (_case, authorization) => {
      const res = await fetch(server.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...(authorization && { authorization }) },
        body: JSON.stringify({ query: '{ usageKeys(level: PROJECT) }' }),
      });
      expect(res.status).toBe(401);
      expect(res.headers.get('www-authenticate')).toMatch(/^Bearer\b/);
      expect(res.headers.get('content-type')).toContain('application/json');
      const body = await res.json();
      expect(body).toEqual({
        errors: [{ message: expect.any(String), extensions: { code: 'UNAUTHENTICATED' } }],
      });
    });

    it('reads nothing for an unauthenticated request', async () => {
      const before = storeReads(store);
      await post(server, '{ usageKeys(level: PROJECT) }');
      expect(storeReads(store)).toBe(before);
    });

    it('answers 200 to the admin token, which sees everything', async () => {
      const answer = await post(
        server,
        '{ p: usageKeys(level: PROJECT) e: usageKeys(level: EXPERIMENT) machineMetrics(days: 3660) { machineName } }',
        TOKENS.ops,
      );
      expect(answer.status).toBe(200);
      expect(answer.body.errors).toBeUndefined();
      expect(answer.body.data).toMatchObject({ p: KEYS.PROJECT, e: KEYS.EXPERIMENT });
    });

    it('accepts the scheme in any case', async () => {
      const res = await fetch(server.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `bearer ${TOKENS.ops}` },
        body: JSON.stringify({ query: '{ usageKeys(level: PROJECT) }' }),
      });
      expect(res.status).toBe(200);
    });

    it('keeps /healthz, /readyz and the playground open, and /metrics behind a token', async () => {
      expect((await fetch(`${server.origin}/healthz`)).status).toBe(200);
      expect((await fetch(`${server.origin}/readyz`)).status).toBe(200);
      expect((await fetch(server.url, { headers: { accept: 'text/html' } })).status).toBe(200);
      expect((await fetch(`${server.origin}/playground/start.js`)).status).toBe(200);

      const anonymousMetrics = await fetch(`${server.origin}/metrics`);
      expect(anonymousMetrics.status).toBe(401);
      expect(anonymousMetrics.headers.get('www-authenticate')).toMatch(/^Bearer\b/);
      const wrong = await fetch(`${server.origin}/metrics`, { headers: { authorization: 'Bearer nope' } });
      expect(wrong.status).toBe(401);
      // Any valid token will do: a Prometheus scraper gets a token of its own.
      const scoped = await fetch(`${server.origin}/metrics`, {
        headers: { authorization: `Bearer ${TOKENS.alice}` },
      });
      expect(scoped.status).toBe(200);
      expect(await scoped.text()).toContain('carbonledger_http_requests_total');
    });

    it('runs a GET query only with a token, and refuses a cross-site-style POST even with one', async () => {
      const params = new URLSearchParams({ query: '{ usageKeys(level: PROJECT) }' });
      const authorization = `Bearer ${TOKENS.ops}`;
      const anonymous = await fetch(`${server.url}?${params}`);
      expect(anonymous.status).toBe(401);
      const withToken = await fetch(`${server.url}?${params}`, { headers: { authorization } });
      expect(withToken.status).toBe(200);

      const form = await fetch(server.url, {
        method: 'POST',
        headers: { authorization, 'content-type': 'text/plain' },
        body: JSON.stringify({ query: '{ usageKeys(level: PROJECT) }' }),
      });
      expect(form.status).toBe(400);
      expect(await form.text()).toContain('Cross-Site Request Forgery');
    });
  });

  describe('a token scoped to a project', () => {
    it('lists only the keys in scope: its project and the instances that only ran under it', async () => {
      const answer = await post(
        server,
        `{ p: usageKeys(level: PROJECT) i: usageKeys(level: INSTANCE) u: usageKeys(level: USER)
           e: usageKeys(level: EXPERIMENT) m: usageKeys(level: MACHINE) }`,
        TOKENS.isis,
      );
      expect(answer.body).toEqual({ data: { p: ['ISIS'], i: ['node-2:9100'], u: [], e: [], m: [] } });
    });

    it('reads the series of its project and of its instances', async () => {
      const project = await post(server, series('PROJECT', 'ISIS'), TOKENS.isis);
      expect(project.body).toEqual({ data: { usageSeries: { key: 'ISIS', total: { busyKwh: 1 } } } });
      const instance = await post(server, series('INSTANCE', 'node-2:9100'), TOKENS.isis);
      expect(instance.body.errors).toBeUndefined();
    });

    it.each([
      ['PROJECT', 'IDAaaS'],
      ['INSTANCE', 'node-1:9100'],
      ['INSTANCE', 'node-3:9100'],
      ['INSTANCE', 'never-seen:9100'],
      ['USER', 'bob'],
      ['EXPERIMENT', 'RB1234'],
      ['MACHINE', 'Artemis (Matlab)'],
    ] as const)('is refused the %s series of %s with FORBIDDEN, before reading it', async (level, key) => {
      const before = store.calls.readDays.filter((call) => call.keys.includes(key)).length;
      const answer = await post(server, series(level, key, 'HOUR'), TOKENS.isis);
      expect(answer.status).toBe(200);
      expect(answer.body.data).toBeNull();
      expect(answer.body.errors).toEqual([
        expect.objectContaining({ extensions: { code: 'FORBIDDEN' }, path: ['usageSeries'] }),
      ]);
      expect(answer.body.errors![0].message).toContain(level);
      expect(store.calls.readDays.filter((call) => call.keys.includes(key)).length).toBe(before);
    });

    it('names the keys out of scope and refuses the whole usageSeriesMany', async () => {
      const answer = await post(
        server,
        `query Many($keys: [String!]!) {
           usageSeriesMany(level: PROJECT, keys: $keys, ${RANGE}, granularity: DAY) { key }
         }`,
        TOKENS.isis,
        { keys: ['ISIS', 'IDAaaS', 'CLF'] },
      );
      expect(answer.body.data).toBeNull();
      expect(answer.body.errors?.[0].extensions).toEqual({ code: 'FORBIDDEN' });
      expect(answer.body.errors?.[0].message).toContain('"IDAaaS", "CLF"');
      expect(answer.body.errors?.[0].message).not.toContain('"ISIS"');

      const allowed = await post(
        server,
        `{ usageSeriesMany(level: PROJECT, keys: ["ISIS"], ${RANGE}, granularity: DAY) { key } }`,
        TOKENS.isis,
      );
      expect(allowed.body).toEqual({ data: { usageSeriesMany: [{ key: 'ISIS' }] } });
    });

    it('is refused machineMetrics, which average every project', async () => {
      const answer = await post(server, '{ machineMetrics { machineName } }', TOKENS.isis);
      expect(answer.body.errors?.[0].extensions).toEqual({ code: 'FORBIDDEN' });
      expect(answer.body.errors?.[0].message).toContain('machineMetrics');
    });

    it("sees only its project's active workspaces, whatever the filter", async () => {
      const all = await post(server, '{ activeWorkspaces { instance } }', TOKENS.isis);
      expect(all.body).toEqual({ data: { activeWorkspaces: [{ instance: 'node-2:9100' }] } });
      const other = await post(server, '{ activeWorkspaces(project: "IDAaaS") { instance } }', TOKENS.isis);
      expect(other.body).toEqual({ data: { activeWorkspaces: [] } });
    });
  });

  describe('a token scoped to a user', () => {
    it('lists and reads its user only', async () => {
      const keys = await post(
        server,
        '{ u: usageKeys(level: USER) p: usageKeys(level: PROJECT) }',
        TOKENS.alice,
      );
      expect(keys.body).toEqual({ data: { u: ['alice'], p: [] } });
      const own = await post(server, series('USER', 'alice'), TOKENS.alice);
      expect(own.body.errors).toBeUndefined();
      const other = await post(server, series('USER', 'bob'), TOKENS.alice);
      expect(other.body.errors?.[0].extensions).toEqual({ code: 'FORBIDDEN' });
    });

    it('sees the active workspaces its user holds, in any project', async () => {
      const answer = await post(server, '{ activeWorkspaces { instance project } }', TOKENS.alice);
      expect(answer.body).toEqual({
        data: { activeWorkspaces: [{ instance: 'node-1:9100', project: 'IDAaaS' }] },
      });
    });
  });

  describe('limits on hostile operations', () => {
    const HOURLY_YEAR = 'from: "2024-01-01T00:00:00Z", to: "2025-01-01T00:00:00Z", granularity: HOUR';
    const EVERY_FIGURE =
      'busyCpuSeconds idleCpuSeconds busyKwh idleKwh busyGco2eq idleGco2eq totalKwh totalGco2eq';

    async function expectRefused(query: string, code: string, limit: string): Promise<void> {
      const before = storeReads(store);
      const answer = await post(server, query, TOKENS.ops);
      expect(answer.status).toBe(400);
      expect(answer.body.data).toBeUndefined();
      expect(answer.body.errors).toEqual([
        {
          message: expect.any(String),
          extensions: { code, limit: expect.objectContaining({ name: limit }) },
        },
      ]);
      expect(storeReads(store)).toBe(before);
    }

    it('refuses an operation nested too deep', async () => {
      const deep =
        '{ __schema { types { fields { type ' +
        '{ ofType '.repeat(14) +
        '{ name }' +
        ' }'.repeat(14) +
        ' } } } }';
      await expectRefused(deep, 'QUERY_TOO_DEEP', 'depth');
    });

    it('refuses many aliases of an hourly year as too costly, but runs one', async () => {
      const aliased = Array.from(
        { length: 30 },
        (_, i) =>
          `s${i}: usageSeries(level: PROJECT, key: "ISIS", ${HOURLY_YEAR}) { buckets { usage { ${EVERY_FIGURE} } } }`,
      );
      await expectRefused(`{ ${aliased.join(' ')} }`, 'QUERY_TOO_COMPLEX', 'cost');

      const one = await post(server, `{ ${aliased[0]} }`, TOKENS.ops);
      expect(one.status).toBe(200);
      expect((one.body.data?.s0 as { buckets: unknown[] }).buckets).toHaveLength(366 * 24);
    });

    it('weighs usageSeriesMany by its keys, given in variables', async () => {
      const query = `query Many($keys: [String!]!, $from: DateTime!, $to: DateTime!) {
        usageSeriesMany(level: PROJECT, keys: $keys, from: $from, to: $to, granularity: HOUR) { buckets { status } }
      }`;
      const keys = Array.from({ length: 150 }, (_, i) => `key-${i}`);
      const variables = { keys, from: '2024-01-01T00:00:00Z', to: '2025-01-01T00:00:00Z' };
      const before = storeReads(store);
      const answer = await post(server, query, TOKENS.ops, variables);
      expect(answer.status).toBe(400);
      expect(answer.body.errors?.[0].extensions).toMatchObject({ code: 'QUERY_TOO_COMPLEX' });
      expect(storeReads(store)).toBe(before);
    });

    it('refuses more than 100 root fields', async () => {
      await expectRefused(
        `{ ${'usageKeys(level: PROJECT) '.repeat(101)}}`,
        'QUERY_TOO_COMPLEX',
        'rootFields',
      );
    });

    it('refuses more than 100 aliases, also when fragments multiply them', async () => {
      const aliases = Array.from({ length: 101 }, (_, i) => `k${i}: key`).join(' ');
      await expectRefused(
        `{ usageSeries(level: PROJECT, key: "ISIS", ${RANGE}, granularity: DAY) { ${aliases} } }`,
        'QUERY_TOO_COMPLEX',
        'aliases',
      );
      // Each fragment spreads the next twice: 2^12 aliased fields from a few lines.
      const fragments = Array.from(
        { length: 12 },
        (_, i) => `fragment F${i} on UsageSeries { ...F${i + 1} ...F${i + 1} }`,
      );
      await expectRefused(
        `query Bomb { usageSeries(level: PROJECT, key: "ISIS", ${RANGE}, granularity: DAY) { ...F0 } }
         ${fragments.join(' ')} fragment F12 on UsageSeries { a: key }`,
        'QUERY_TOO_COMPLEX',
        'aliases',
      );
    });
  });
});

describe('anonymous access said on purpose', () => {
  let server: TestServer;

  beforeAll(async () => {
    server = await startTestServer({
      store: fixtureStore(),
      auth: { ...AUTH, anonymous: true },
      scopeIndex: scopeIndexOf(INSTANCE_PROJECTS),
    });
  });
  afterAll(async () => {
    await server.close();
  });

  it('lets a request without a token, or with an unknown one, see everything', async () => {
    for (const token of [undefined, 'not-a-token']) {
      const answer = await post(
        server,
        '{ usageKeys(level: EXPERIMENT) machineMetrics(days: 3660) { id } }',
        token,
      );
      expect(answer.status).toBe(200);
      expect(answer.body.errors).toBeUndefined();
      expect(answer.body.data).toMatchObject({ usageKeys: KEYS.EXPERIMENT });
    }
  });

  it('still holds a scoped token to its scope, and /metrics to a token', async () => {
    const answer = await post(server, '{ usageKeys(level: PROJECT) }', TOKENS.isis);
    expect(answer.body).toEqual({ data: { usageKeys: ['ISIS'] } });
    expect((await fetch(`${server.origin}/metrics`)).status).toBe(401);
  });
});

describe('without an auth section', () => {
  let server: TestServer;

  beforeAll(async () => {
    server = await startTestServer({ store: fixtureStore() });
  });
  afterAll(async () => {
    await server.close();
  });

  it('is open: no token needed, everything visible, /metrics too', async () => {
    const answer = await post(server, '{ usageKeys(level: INSTANCE) }');
    expect(answer.body).toEqual({ data: { usageKeys: KEYS.INSTANCE } });
    expect((await fetch(`${server.origin}/metrics`)).status).toBe(200);
  });
});

describe('an auth section without tokens or anonymous access', () => {
  it('refuses every GraphQL request and leaves /metrics open, as no token could open it', async () => {
    const server = await startTestServer({ store: fixtureStore(), auth: { anonymous: false, tokens: [] } });
    try {
      expect((await post(server, '{ usageKeys(level: PROJECT) }', TOKENS.ops)).status).toBe(401);
      expect((await fetch(`${server.origin}/metrics`)).status).toBe(200);
    } finally {
      await server.close();
    }
  });
});
