import { graphql, type GraphQLSchema } from 'graphql';
import { fixedClock } from '../../../src/domain/clock';
import { silentLogger } from '../../../src/log';
import { buildAppSchema, createRequestContext } from '../../../src/app-schema';
import { memoryUsageStore } from '../../support/usage-store';

let schema: GraphQLSchema;
beforeAll(async () => {
  schema = await buildAppSchema();
});

async function errorOf(source: string, variableValues?: Record<string, unknown>) {
  const contextValue = createRequestContext({
    store: memoryUsageStore({ entries: [], ledger: {} }),
    clock: fixedClock(Date.UTC(2025, 8, 23)),
    log: silentLogger,
  });
  const { data, errors } = await graphql({ schema, source, variableValues, contextValue });
  expect(errors).toHaveLength(1);
  expect(data).toBeNull();
  return {
    message: errors![0].message,
    code: errors![0].extensions.code,
    argument: errors![0].extensions.argument,
  };
}

const series = (args: string) => `{ usageSeries(level: PROJECT, key: "IDAaaS", ${args}) { id } }`;
const variablesQuery = `query ($from: DateTime!, $to: DateTime!) {
  usageSeries(level: PROJECT, key: "IDAaaS", from: $from, to: $to, granularity: DAY) { id }
}`;

describe('bad input is a BAD_USER_INPUT error naming the argument', () => {
  it.each([
    ['"yesterday"', 'from: "yesterday", to: "2025-09-22T00:00:00Z", granularity: DAY', 'from'],
    [
      '"2025-13-01T00:00:00Z"',
      'from: "2025-13-01T00:00:00Z", to: "2025-09-22T00:00:00Z", granularity: DAY',
      'from',
    ],
    ['"2025-02-29"', 'from: "2025-02-01", to: "2025-02-29", granularity: DAY', 'to'],
    ['"2025-09-21T24:00:00Z"', 'from: "2025-09-01", to: "2025-09-21T24:00:00Z", granularity: DAY', 'to'],
    ['1758412800000', 'from: 1758412800000, to: "2025-09-22T00:00:00Z", granularity: DAY', 'from'],
  ])('a malformed date in the query text: %s', async (got, args, argument) => {
    expect(await errorOf(series(args))).toEqual({
      message: `Argument "${argument}": expected an ISO-8601 date-time such as 2025-09-21T00:00:00Z, got ${got}`,
      code: 'BAD_USER_INPUT',
      argument,
    });
  });

  it('a malformed date in a variable', async () => {
    expect(await errorOf(variablesQuery, { from: '2025-09-21T00:00:00Z', to: '21/09/2025' })).toEqual({
      message: 'Argument "to": expected an ISO-8601 date-time such as 2025-09-21T00:00:00Z, got "21/09/2025"',
      code: 'BAD_USER_INPUT',
      argument: 'to',
    });
  });

  it('`from` not before `to`', async () => {
    expect(
      await errorOf(variablesQuery, { from: '2025-09-22T00:00:00Z', to: '2025-09-21T00:00:00Z' }),
    ).toEqual({
      message: 'Argument "from" must be before "to"',
      code: 'BAD_USER_INPUT',
      argument: 'from',
    });
  });

  it.each([
    [
      'HOUR',
      '2024-01-01',
      '2025-01-02',
      'Argument "to" is more than 366 days after "from": the longest HOUR series',
    ],
    [
      'DAY',
      '2020-01-01',
      '2025-01-02',
      'Argument "to" is more than 5 years after "from": the longest DAY series',
    ],
    [
      'MONTH',
      '2000-01-01',
      '2050-02-01',
      'Argument "to" is more than 50 years after "from": the longest MONTH series',
    ],
    [
      'YEAR',
      '2000-01-01',
      '2051-01-01',
      'Argument "to" is more than 50 years after "from": the longest YEAR series',
    ],
  ])('a %s range longer than allowed', async (granularity, from, to, message) => {
    expect(await errorOf(series(`from: "${from}", to: "${to}", granularity: ${granularity}`))).toEqual({
      message,
      code: 'BAD_USER_INPUT',
      argument: 'to',
    });
  });

  it('more than 200 keys', async () => {
    const keys = Array.from({ length: 201 }, (_, i) => `k${i}`);
    const query = `query ($keys: [String!]!) {
      usageSeriesMany(level: PROJECT, keys: $keys, from: "2025-09-21", to: "2025-09-22", granularity: DAY) { id }
    }`;
    expect(await errorOf(query, { keys })).toEqual({
      message: 'Argument "keys" holds 201 keys; one query may ask for at most 200',
      code: 'BAD_USER_INPUT',
      argument: 'keys',
    });
  });

  it.each([0, 3661])('machineMetrics days: %p', async (days) => {
    expect(await errorOf(`{ machineMetrics(days: ${days}) { id } }`)).toEqual({
      message: `Argument "days" must be from 1 to 3660, got ${days}`,
      code: 'BAD_USER_INPUT',
      argument: 'days',
    });
  });
});
