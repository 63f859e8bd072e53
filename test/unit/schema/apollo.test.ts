import { ApolloServer } from '@apollo/server';
import type { GraphQLSchema } from 'graphql';
import { fixedClock } from '../../../src/domain/clock';
import { maskError } from '../../../src/errors';
import { silentLogger } from '../../../src/log';
import { type AppContext, buildAppSchema, createRequestContext } from '../../../src/app-schema';
import { memoryUsageStore } from '../../support/usage-store';

// The schema, context and maskError as the HTTP server wires them into Apollo Server.

let schema: GraphQLSchema;
beforeAll(async () => {
  schema = await buildAppSchema();
});

async function errorsOf(query: string, variables?: Record<string, unknown>, failReads = false) {
  const store = memoryUsageStore({ entries: [], ledger: {} });
  if (failReads) store.listKeys = () => Promise.reject(new Error('EACCES: /data/usage/project'));
  const apollo = new ApolloServer<AppContext>({
    schema,
    formatError: maskError,
    includeStacktraceInErrorResponses: false,
  });
  await apollo.start();
  try {
    const contextValue = createRequestContext({
      store,
      clock: fixedClock(Date.UTC(2025, 8, 23)),
      log: silentLogger,
    });
    const response = await apollo.executeOperation({ query, variables }, { contextValue });
    if (response.body.kind !== 'single') throw new Error('expected a single result');
    return response.body.singleResult.errors?.map(({ message, extensions }) => ({
      message,
      code: extensions?.code,
    }));
  } finally {
    await apollo.stop();
  }
}

describe('through Apollo Server', () => {
  it('reports a malformed date literal as BAD_USER_INPUT naming the argument', async () => {
    expect(
      await errorsOf(
        '{ usageSeries(level: PROJECT, key: "x", from: "soon", to: "2025-09-22", granularity: DAY) { id } }',
      ),
    ).toEqual([
      {
        message: 'Argument "from": expected an ISO-8601 date-time such as 2025-09-21T00:00:00Z, got "soon"',
        code: 'BAD_USER_INPUT',
      },
    ]);
  });

  it('reports a variable of the wrong type as BAD_USER_INPUT naming the argument', async () => {
    const query = `query ($to: DateTime!) {
      usageSeries(level: PROJECT, key: "x", from: "2025-09-21", to: $to, granularity: DAY) { id }
    }`;
    expect(await errorsOf(query, { to: 42 })).toEqual([
      {
        message: 'Argument "to": expected an ISO-8601 date-time such as 2025-09-21T00:00:00Z, got 42',
        code: 'BAD_USER_INPUT',
      },
    ]);
  });

  it('passes validation errors through', async () => {
    expect(await errorsOf('{ usageKeys(level: PLANET) }')).toEqual([
      { message: expect.stringContaining('PLANET'), code: 'GRAPHQL_VALIDATION_FAILED' },
    ]);
  });

  it('masks an internal error', async () => {
    expect(await errorsOf('{ usageKeys(level: PROJECT) }', undefined, true)).toEqual([
      { message: 'Internal server error', code: 'INTERNAL_SERVER_ERROR' },
    ]);
  });
});
