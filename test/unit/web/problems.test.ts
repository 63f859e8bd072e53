import { CombinedGraphQLErrors, ServerError } from '@apollo/client/errors';

import { problemOf } from '../../../web/src/problems';

const graphQLError = (code: string, message: string) =>
  new CombinedGraphQLErrors({ data: null, errors: [{ message, extensions: { code } }] });

describe('what the dashboard says when a query fails', () => {
  it('tells a 401 answer, with its message, from the codes the API gives in a GraphQL answer', () => {
    const bodyText = JSON.stringify({
      errors: [{ message: 'The bearer token is not valid', extensions: { code: 'UNAUTHENTICATED' } }],
    });
    const unauthenticated = new ServerError('Response not successful', {
      response: new Response(bodyText, { status: 401 }),
      bodyText,
    });
    expect(problemOf(unauthenticated)).toEqual({
      kind: 'unauthenticated',
      message: 'The bearer token is not valid',
    });
    expect(problemOf(graphQLError('FORBIDDEN', 'Token "isis" may not read MACHINE series'))).toEqual({
      kind: 'forbidden',
      message: 'Token "isis" may not read MACHINE series',
    });
    expect(
      problemOf(graphQLError('DATA_UNAVAILABLE', 'usage of IDAaaS on 2026-11-03 is unreadable')),
    ).toEqual({
      kind: 'unavailable',
      message: 'usage of IDAaaS on 2026-11-03 is unreadable',
    });
    expect(problemOf(graphQLError('BAD_USER_INPUT', 'to: must be after from'))?.kind).toBe('bad-input');
    expect(problemOf(graphQLError('INTERNAL_SERVER_ERROR', 'Internal server error'))?.kind).toBe('other');
    expect(problemOf(new TypeError('Failed to fetch'))).toEqual({
      kind: 'other',
      message: 'Failed to fetch',
    });
    expect(problemOf(undefined)).toBeUndefined();
  });
});
