import { ApolloClient, HttpLink, InMemoryCache, gql, type TypedDocumentNode } from '@apollo/client';

import { FIXTURE_DAY, startTestServer, usageFixture, type TestServer } from '../support/http';

const DAY_MS = 86_400_000;
/** The fixture's whole day. */
const RANGE = {
  level: 'PROJECT',
  from: new Date(Date.parse(FIXTURE_DAY)).toISOString(),
  to: new Date(Date.parse(FIXTURE_DAY) + DAY_MS).toISOString(),
  granularity: 'DAY',
};

interface SeriesResult {
  __typename: 'UsageSeries';
  id: string;
  total: { totalKwh: number };
}
type SeriesVariables = typeof RANGE & { key: string };
type ManySeriesVariables = typeof RANGE & { keys: string[] };

const ONE_SERIES: TypedDocumentNode<{ usageSeries: SeriesResult & { key: string } }, SeriesVariables> = gql`
  query OneSeries(
    $level: UsageLevel!
    $key: String!
    $from: DateTime!
    $to: DateTime!
    $granularity: Granularity!
  ) {
    usageSeries(level: $level, key: $key, from: $from, to: $to, granularity: $granularity) {
      id
      key
      total {
        totalKwh
      }
    }
  }
`;

const MANY_SERIES: TypedDocumentNode<
  { usageSeriesMany: Array<SeriesResult & { granularity: string }> },
  ManySeriesVariables
> = gql`
  query ManySeries(
    $level: UsageLevel!
    $keys: [String!]!
    $from: DateTime!
    $to: DateTime!
    $granularity: Granularity!
  ) {
    usageSeriesMany(level: $level, keys: $keys, from: $from, to: $to, granularity: $granularity) {
      id
      granularity
      total {
        totalKwh
      }
    }
  }
`;

describe('the real Apollo Client against the running server', () => {
  const fixture = usageFixture();
  let server: TestServer;
  let cache: InMemoryCache;
  let client: ApolloClient;

  beforeAll(async () => {
    server = await startTestServer({ store: fixture.store });
    cache = new InMemoryCache();
    client = new ApolloClient({ link: new HttpLink({ uri: server.url, fetch }), cache });
  });
  afterAll(async () => {
    client?.stop();
    await server?.close();
  });

  it('runs a query and returns its data', async () => {
    const keys: TypedDocumentNode<{ usageKeys: string[] }> = gql('{ usageKeys(level: PROJECT) }');
    const { data } = await client.query({ query: keys });
    expect(data).toEqual({ usageKeys: ['IDAaaS', 'ISIS'] });
  });

  it('normalises series by id, so a later query for the same series updates the cached one', async () => {
    const first = await client.query({ query: ONE_SERIES, variables: { ...RANGE, key: 'IDAaaS' } });
    const id = first.data!.usageSeries.id;
    expect(first.data!.usageSeries).toMatchObject({ __typename: 'UsageSeries', total: { totalKwh: 1.5 } });

    const cacheKey = `UsageSeries:${id}`;
    expect(cache.extract()).toHaveProperty([cacheKey]);

    fixture.setBusyKwh('IDAaaS', 2.5);
    const second = await client.query({
      query: MANY_SERIES,
      variables: { ...RANGE, keys: ['IDAaaS', 'ISIS'] },
    });
    expect(second.data!.usageSeriesMany.map((series) => series.id)).toContain(id);

    // The first query, answered from the cache alone, sees the figures and fields the second brought.
    expect(client.readQuery({ query: ONE_SERIES, variables: { ...RANGE, key: 'IDAaaS' } })).toMatchObject({
      usageSeries: { id, key: 'IDAaaS', total: { totalKwh: 2.5 } },
    });
    expect(cache.extract()[cacheKey]).toMatchObject({ key: 'IDAaaS', granularity: 'DAY' });
    expect(Object.keys(cache.extract()).filter((key) => key.startsWith('UsageSeries:'))).toHaveLength(2);
  });
});
