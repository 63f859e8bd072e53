import { ApolloServer, HeaderMap, type ApolloServerPlugin, type BaseContext } from '@apollo/server';
import { ApolloServerErrorCode, unwrapResolverError } from '@apollo/server/errors';
import {
  ApolloServerPluginCacheControlDisabled,
  ApolloServerPluginLandingPageDisabled,
  ApolloServerPluginUsageReportingDisabled,
} from '@apollo/server/plugin/disabled';
import { ApolloServerPluginDrainHttpServer } from '@apollo/server/plugin/drainHttpServer';
import { type GraphQLFormattedError, type GraphQLSchema } from 'graphql';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';

import { scopeKey, type Principal } from '../auth/principal';
import { ClientClosedError, maskError, QueryTimeoutError } from '../errors';
import { errorFields, type Logger } from '../log';
import type { GraphQLOperationOutcome, ServiceMetrics } from '../metrics';
import { documentNesting, MAX_DOCUMENT_NESTING } from './document-nesting';
import { MAX_DOCUMENT_TOKENS, operationLimitsPlugin, type OperationLimits } from './operation-limits';
import { AnswerBudget } from './answer-budget';
import { BASE_HEADERS, PayloadTooLargeError, readBody, sendBody, sendGraphQLError } from './respond';
import { requestJsonProblem } from './request-json';
import { rootFieldNames } from './root-fields';
import { markOf, type RequestMark } from './request-mark';
import { cacheMarkPlugin, ResponseCache } from './response-cache';

/** What a GraphQL request's context is built from. */
export interface GraphQLRequestInfo {
  req: IncomingMessage;
  /** Who the request comes from, as authentication found. */
  principal: Principal;
  /** Aborts, with a QueryTimeoutError, when the request's execution time is up. */
  signal: AbortSignal;
}

export type ContextFactory<TContext extends BaseContext> = (
  request: GraphQLRequestInfo,
) => Promise<TContext> | TContext;

export interface GraphQLEndpointOptions<TContext extends BaseContext> {
  schema: GraphQLSchema;
  context: ContextFactory<TContext>;
  log: Logger;
  metrics: ServiceMetrics;
  httpServer: Server;
  bodyLimitBytes: number;
  /** How long `stop()` lets requests in flight finish before their connections are cut. */
  stopGracePeriodMs: number;
  executionTimeoutMs: number;
  operationLimits: OperationLimits;
  /** What the answers in flight may hold, in estimated cost (answer-budget.ts). */
  maxAnswerCostInFlight: number;
  /** How long an answer may take to reach its client; then its connection is closed. */
  sendTimeoutMs: number;
  /**
   * The store's version (`Store.version`): when given, answers of read-only usage queries
   * are kept and replayed while it stays the same. Undefined from it: not now.
   */
  storeVersion?: () => Promise<string | undefined>;
}

/** Characters of rendered answers kept: thousands of dashboards, or ~40 years of hours in columns. */
const RESPONSE_CACHE_CHARS = 64 * 1024 * 1024;

export interface GraphQLEndpoint {
  handle(req: IncomingMessage, res: ServerResponse, search: string, principal: Principal): Promise<void>;
  /** Stops accepting connections, drains the HTTP server, then stops Apollo. */
  stop(): Promise<void>;
}

/** Apollo Server behind our own node:http routing. */
export async function startGraphQLEndpoint<TContext extends BaseContext>(
  opts: GraphQLEndpointOptions<TContext>,
): Promise<GraphQLEndpoint> {
  const responseCache = new ResponseCache(RESPONSE_CACHE_CHARS);
  const budget = new AnswerBudget(opts.maxAnswerCostInFlight, opts.metrics.answerCostInFlight);
  const apollo = new ApolloServer<TContext>({
    schema: opts.schema,
    // Explicit, so nothing depends on NODE_ENV: the playground needs introspection, and a stack
    // trace belongs in our log, never in a response.
    introspection: true,
    includeStacktraceInErrorResponses: false,
    csrfPrevention: true,
    // Apollo 5 refuses JSON arrays of operations already; said here so it stays so: a batch would
    // multiply every per-operation limit.
    allowBatchedHttpRequests: false,
    parseOptions: { maxTokens: MAX_DOCUMENT_TOKENS },
    // The CLI owns the process's signals and calls close().
    stopOnTerminationSignals: false,
    logger: apolloLogger(opts.log),
    formatError: maskLoggingInternalErrors(opts.log),
    plugins: [
      ApolloServerPluginDrainHttpServer({
        httpServer: opts.httpServer,
        stopGracePeriodMillis: opts.stopGracePeriodMs,
      }),
      // Computing cache hints for every field halves throughput on large results; we send none.
      ApolloServerPluginCacheControlDisabled(),
      // We serve our own offline playground.
      ApolloServerPluginLandingPageDisabled(),
      // Usage reporting would send operations to Apollo's cloud whenever APOLLO_KEY happens to be set.
      ApolloServerPluginUsageReportingDisabled(),
      operationMetricsPlugin(opts.metrics),
      operationLimitsPlugin(opts.operationLimits, budget),
      cacheMarkPlugin(),
    ],
  });
  await apollo.start();

  /** Runs the operation with its deadline; a client that goes away stops the reads made for it. */
  async function execute(
    req: IncomingMessage,
    res: ServerResponse,
    request: { search: string; body: unknown; principal: Principal },
    mark: { current?: RequestMark },
  ) {
    const deadline = new AbortController();
    const timer = setTimeout(
      () => deadline.abort(new QueryTimeoutError(opts.executionTimeoutMs)),
      opts.executionTimeoutMs,
    );
    const clientGone = () => deadline.abort(new ClientClosedError());
    res.once('close', clientGone);
    try {
      return await apollo.executeHTTPGraphQLRequest({
        httpGraphQLRequest: {
          method: req.method ?? 'GET',
          headers: toHeaderMap(req),
          search: request.search,
          body: request.body,
        },
        context: async () => {
          const signal = deadline.signal;
          const contextValue = await opts.context({ req, principal: request.principal, signal });
          mark.current = markOf(contextValue);
          return contextValue;
        },
      });
    } finally {
      clearTimeout(timer);
      res.off('close', clientGone);
    }
  }

  return {
    async handle(req, res, search, principal) {
      const body = await readGraphQLBody(req, res, opts.bodyLimitBytes);
      if (body === REJECTED) return;
      if (refuseBadRequest(res, req.method, body, search)) return;
      // Only a JSON POST: it passes CSRF prevention by its content type alone, so replaying an
      // answer skips no check Apollo would have made.
      const version =
        opts.storeVersion !== undefined && req.method === 'POST' && isJsonRequest(req)
          ? await opts.storeVersion()
          : undefined;
      const cacheKey =
        version === undefined
          ? undefined
          : JSON.stringify([scopeKey(principal), search, req.headers.accept ?? '', body]);
      const cached = cacheKey === undefined ? undefined : responseCache.get(cacheKey, version!);
      if (cached !== undefined) {
        for (const operation of cached.rootFields) {
          opts.metrics.graphqlOperations.inc({ operation, outcome: 'ok' });
        }
        // Shared with every client it is replayed to: it takes nothing from the budget.
        writeHead(res, cached.status, cached.headers);
        await sendBody(res, cached.body, opts.sendTimeoutMs);
        return;
      }
      const mark: { current?: RequestMark } = {};
      try {
        const response = await execute(req, res, { search, body, principal }, mark);
        writeHead(res, response.status ?? 200, response.headers);
        if (response.body.kind === 'complete') {
          const rootFields = mark.current?.rootFields;
          if (cacheKey !== undefined && rootFields !== undefined) {
            responseCache.set(cacheKey, version!, {
              status: res.statusCode,
              headers: [...response.headers],
              body: response.body.string,
              rootFields,
            });
          }
          await sendBody(res, response.body.string, opts.sendTimeoutMs);
          return;
        }
        for await (const chunk of response.body.asyncIterator) res.write(chunk);
        res.end();
      } finally {
        budget.give(mark.current?.heldCost ?? 0);
      }
    },
    stop: () => apollo.stop(),
  };
}

function writeHead(res: ServerResponse, status: number, headers: Iterable<[string, string]>): void {
  res.statusCode = status;
  for (const [name, value] of Object.entries(BASE_HEADERS)) res.setHeader(name, value as string);
  for (const [name, value] of headers) res.setHeader(name, value);
}

/**
 * Answers 400, and returns true, for request JSON nested too deeply (request-json.ts) or a
 * document nested too deeply to parse safely (document-nesting.ts).
 */
function refuseBadRequest(
  res: ServerResponse,
  method: string | undefined,
  body: unknown,
  search: string,
): boolean {
  const jsonProblem = requestJsonProblem(body, search);
  if (jsonProblem !== undefined) {
    sendGraphQLError(res, 400, ApolloServerErrorCode.BAD_REQUEST, jsonProblem);
    return true;
  }
  return refuseDeepNesting(res, queryText(method, body, search));
}

const REJECTED = Symbol('rejected');

function isJsonRequest(req: IncomingMessage): boolean {
  return (req.headers['content-type'] ?? '').split(';')[0].trim().toLowerCase() === 'application/json';
}

/** The document a request carries, where Apollo will look for it; undefined when there is none. */
function queryText(method: string | undefined, body: unknown, search: string): string | undefined {
  if (method === 'POST') {
    const query = typeof body === 'object' && body !== null ? (body as { query?: unknown }).query : undefined;
    return typeof query === 'string' ? query : undefined;
  }
  return new URLSearchParams(search).get('query') ?? undefined;
}

/**
 * Answers 400 QUERY_TOO_DEEP, and returns true, for a document nested too deeply to parse safely
 * (see document-nesting.ts): the parser would otherwise fail with "Maximum call stack size exceeded".
 */
function refuseDeepNesting(res: ServerResponse, query: string | undefined): boolean {
  if (query === undefined || documentNesting(query, MAX_DOCUMENT_NESTING) <= MAX_DOCUMENT_NESTING)
    return false;
  sendGraphQLError(
    res,
    400,
    'QUERY_TOO_DEEP',
    `The document nests selection sets, lists, objects or arguments more than ${MAX_DOCUMENT_NESTING} levels deep`,
  );
  return true;
}

/**
 * Reads and decodes a POST body the way Apollo expects it: parsed JSON for a JSON content type,
 * the text otherwise (Apollo then refuses it, CSRF prevention first). Answers the request itself
 * and returns REJECTED when the body is too large or not JSON.
 */
async function readGraphQLBody(
  req: IncomingMessage,
  res: ServerResponse,
  limitBytes: number,
): Promise<unknown | typeof REJECTED> {
  if (req.method !== 'POST') return undefined;
  let raw: Buffer;
  try {
    raw = await readBody(req, limitBytes);
  } catch (err) {
    if (!(err instanceof PayloadTooLargeError)) throw err;
    // The rest of the body is left unread, so this connection cannot carry another request.
    res.setHeader('connection', 'close');
    sendGraphQLError(res, 413, 'PAYLOAD_TOO_LARGE', err.message);
    return REJECTED;
  }
  const text = raw.toString('utf8');
  const mediaType = (req.headers['content-type'] ?? '').split(';')[0].trim().toLowerCase();
  if (mediaType !== 'application/json') return text === '' ? undefined : text;
  try {
    return JSON.parse(text);
  } catch {
    sendGraphQLError(res, 400, ApolloServerErrorCode.BAD_REQUEST, 'request body is not valid JSON');
    return REJECTED;
  }
}

function toHeaderMap(req: IncomingMessage): HeaderMap {
  const headers = new HeaderMap();
  for (const [name, value] of Object.entries(req.headers)) {
    if (value !== undefined) headers.set(name, Array.isArray(value) ? value.join(', ') : value);
  }
  // The contract promises GET for queries, so `curl '…/graphql?query={…}'` must work as it is.
  // Apollo's CSRF prevention would refuse a GET without a preflight header. It guards against a
  // page in another site making a visitor's browser send a request: a GET has no side effect here
  // (Apollo runs only queries over GET), but the page could still time answers it cannot read, or
  // send costly ones. Browsers say where a request comes from (Fetch Metadata); a GET that does
  // not say it comes from another site is let through, one that does still needs the header.
  if ((req.method === 'GET' || req.method === 'HEAD') && !fromAnotherSite(req)) {
    headers.set('apollo-require-preflight', 'GET');
  }
  return headers;
}

/** `Sec-Fetch-Site` of another site; curl and scripts send none, a browser's own navigation `none`. */
function fromAnotherSite(req: IncomingMessage): boolean {
  const site = req.headers['sec-fetch-site'];
  return site === 'cross-site' || site === 'same-site';
}

/** Apollo's `formatError`: masks what the client must not see, after logging internal errors with their stack. */
function maskLoggingInternalErrors(log: Logger) {
  return (formatted: GraphQLFormattedError, error: unknown): GraphQLFormattedError => {
    const masked = maskError(formatted, error);
    if (masked.extensions?.code === ApolloServerErrorCode.INTERNAL_SERVER_ERROR) {
      log.error('graphql: internal error', {
        path: formatted.path,
        ...errorFields(unwrapResolverError(error)),
      });
    }
    return masked;
  };
}

function apolloLogger(log: Logger) {
  const child = log.child({ component: 'apollo' });
  return {
    debug: () => undefined,
    info: (message?: unknown) => child.info(String(message)),
    warn: (message?: unknown) => child.warn(String(message)),
    error: (message?: unknown) => child.error(String(message)),
  };
}

/**
 * Counts operations by root field (a name from our schema, so the series stay few whatever
 * clients send) and outcome: ok, error (executed with errors) or invalid (never executed: not
 * parsed, not valid, or over a limit).
 */
function operationMetricsPlugin(metrics: ServiceMetrics): ApolloServerPlugin<BaseContext> {
  return {
    async requestDidStart() {
      let rootFields: string[] = [];
      let executed = false;
      let failed = false;
      return {
        async didResolveOperation({ operation, document }) {
          if (operation) rootFields = rootFieldNames(operation, document);
        },
        // Not reached by an operation the limits refuse: that one is invalid too.
        async executionDidStart() {
          executed = rootFields.length > 0;
        },
        async didEncounterErrors() {
          failed = true;
        },
        async willSendResponse() {
          const outcome: GraphQLOperationOutcome = !executed ? 'invalid' : failed ? 'error' : 'ok';
          for (const operation of executed ? rootFields : ['none']) {
            metrics.graphqlOperations.inc({ operation, outcome });
          }
        },
      };
    },
  };
}
