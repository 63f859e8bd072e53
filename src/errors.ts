import { GraphQLError, type GraphQLFormattedError } from 'graphql';

/** Bad input from the caller (contract section 4); the message names the argument. */
export class BadInputError extends GraphQLError {
  constructor(message: string, argument?: string) {
    super(message, {
      extensions: { code: 'BAD_USER_INPUT', ...(argument === undefined ? {} : { argument }) },
    });
    this.name = 'BadInputError';
  }
}

/** A series, key or workspace outside the caller's scope (contract section 7). */
export class ForbiddenError extends GraphQLError {
  constructor(message: string) {
    super(message, { extensions: { code: 'FORBIDDEN' } });
    this.name = 'ForbiddenError';
  }
}

/** Which limit an operation went over: `QUERY_TOO_DEEP` for nesting, `QUERY_TOO_COMPLEX` for the rest. */
export type QueryLimitCode = 'QUERY_TOO_DEEP' | 'QUERY_TOO_COMPLEX';

/**
 * An operation refused before execution because it goes over a limit (depth, root fields, aliases,
 * estimated cost). Thrown from Apollo's `didResolveOperation`, where an error without an HTTP status
 * would answer 500: this one is the client's, so 400.
 */
export class QueryLimitError extends GraphQLError {
  constructor(
    code: QueryLimitCode,
    message: string,
    limit: { name: string; maximum: number; actual: number },
  ) {
    super(message, { extensions: { code, limit, http: { status: 400 } } });
    this.name = 'QueryLimitError';
  }
}

/** The operation's store reads were cut off at the per-request execution deadline. */
export class QueryTimeoutError extends GraphQLError {
  constructor(timeoutMs: number) {
    super(`The operation took longer than ${timeoutMs} ms and was stopped; ask for fewer keys or buckets`, {
      extensions: { code: 'QUERY_TIMEOUT' },
    });
    this.name = 'QueryTimeoutError';
  }
}

/**
 * Stored figures that cannot be read back (a damaged file): the series cannot be answered until
 * they are ingested again. The operator is told (the store logs the file and moves it aside).
 */
export class DataUnavailableError extends GraphQLError {
  constructor(what: { level: string; key: string; period: string }) {
    super(
      `The stored usage of ${what.level} ${JSON.stringify(what.key)} for ${what.period} is damaged and cannot be ` +
        'read; it has been reported, and is restored once that period is ingested again',
      { extensions: { code: 'DATA_UNAVAILABLE' } },
    );
    this.name = 'DataUnavailableError';
  }
}

/** Seconds a client refused for being one too many is told to wait (Retry-After). */
export const BUSY_RETRY_AFTER_SECONDS = 5;

/**
 * An operation refused because the answers in flight already hold as much as the server lets
 * them (`server.maxAnswerCostInFlight`): 503 with Retry-After, so a client backs off and tries again.
 */
export class ServerBusyError extends GraphQLError {
  constructor(cost: number, budget: number) {
    super(
      `The server is answering as much as it may hold at once (estimated cost ${cost.toLocaleString('en')} ` +
        `with ${budget.toLocaleString('en')} allowed in flight); try again in ${BUSY_RETRY_AFTER_SECONDS} s`,
      {
        extensions: {
          code: 'SERVER_BUSY',
          http: { status: 503, headers: new Map([['retry-after', String(BUSY_RETRY_AFTER_SECONDS)]]) },
        },
      },
    );
    this.name = 'ServerBusyError';
  }
}

/** The client closed its connection: what the operation still reads is abandoned. Nobody sees it. */
export class ClientClosedError extends GraphQLError {
  constructor() {
    super('The client closed the connection before its answer was sent', {
      extensions: { code: 'CLIENT_CLOSED_REQUEST' },
    });
    this.name = 'ClientClosedError';
  }
}

/** Codes whose message was written for the client; every other error is masked. */
export const PUBLIC_ERROR_CODES: ReadonlySet<string> = new Set([
  'BAD_USER_INPUT',
  'FORBIDDEN',
  'UNAUTHENTICATED',
  'QUERY_TOO_DEEP',
  'QUERY_TOO_COMPLEX',
  'QUERY_TIMEOUT',
  'DATA_UNAVAILABLE',
  'GRAPHQL_VALIDATION_FAILED',
  'GRAPHQL_PARSE_FAILED',
  'BAD_REQUEST',
  'PERSISTED_QUERY_NOT_FOUND',
  'SERVER_BUSY',
  'CLIENT_CLOSED_REQUEST',
]);

/**
 * Apollo's `formatError`: passes errors with a public code through (without any stack trace) and
 * masks everything else, so a store path or a bug's message never reaches the client. The decision
 * rests on the code Apollo resolved into `formatted`; `_error`, the original, is for the caller to log.
 */
export function maskError(formatted: GraphQLFormattedError, _error?: unknown): GraphQLFormattedError {
  const code = formatted.extensions?.code;
  if (typeof code === 'string' && PUBLIC_ERROR_CODES.has(code)) {
    const { stacktrace: _stacktrace, ...extensions } = formatted.extensions ?? {};
    return { ...formatted, extensions };
  }
  return {
    message: 'Internal server error',
    ...(formatted.locations && { locations: formatted.locations }),
    ...(formatted.path && { path: formatted.path }),
    extensions: { code: 'INTERNAL_SERVER_ERROR' },
  };
}
