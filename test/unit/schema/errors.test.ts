import { GraphQLError } from 'graphql';
import { BadInputError, ForbiddenError, maskError } from '../../../src/errors';

describe('typed errors', () => {
  it('carry their codes, and BadInputError the argument', () => {
    const bad = new BadInputError('Argument "from" must be before "to"', 'from');
    expect(bad).toBeInstanceOf(GraphQLError);
    expect(bad.extensions).toEqual({ code: 'BAD_USER_INPUT', argument: 'from' });
    expect(new BadInputError('bad').extensions).toEqual({ code: 'BAD_USER_INPUT' });
    expect(new ForbiddenError('not yours').extensions).toEqual({ code: 'FORBIDDEN' });
  });
});

describe('maskError', () => {
  it.each([
    'BAD_USER_INPUT',
    'FORBIDDEN',
    'UNAUTHENTICATED',
    'GRAPHQL_VALIDATION_FAILED',
    'GRAPHQL_PARSE_FAILED',
    'BAD_REQUEST',
    'PERSISTED_QUERY_NOT_FOUND',
  ])('passes %s through, without a stack trace', (code) => {
    const formatted = {
      message: 'Argument "to" is bad',
      locations: [{ line: 1, column: 3 }],
      path: ['usageSeries'],
      extensions: { code, argument: 'to', stacktrace: ['at secret.ts:1'] },
    };
    expect(maskError(formatted, new Error('original'))).toEqual({
      message: 'Argument "to" is bad',
      locations: [{ line: 1, column: 3 }],
      path: ['usageSeries'],
      extensions: { code, argument: 'to' },
    });
  });

  it.each([
    {
      message: 'ENOENT: /data/usage/project/x.json',
      extensions: { code: 'INTERNAL_SERVER_ERROR', stacktrace: ['x'] },
    },
    { message: 'Cannot read properties of undefined', path: ['usageSeries', 'total'] },
    { message: 'weird', extensions: { code: 42 } },
  ])('masks everything else: %p', (formatted) => {
    expect(maskError(formatted, new Error(formatted.message))).toEqual({
      message: 'Internal server error',
      ...('path' in formatted && { path: formatted.path }),
      extensions: { code: 'INTERNAL_SERVER_ERROR' },
    });
  });
});
