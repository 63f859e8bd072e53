import { ListenError } from './listen-errors';
import type { BaseContext } from '@apollo/server';
import type { GraphQLSchema } from 'graphql';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

import { ANONYMOUS, type Principal } from './auth/principal';
import { createAuthenticator } from './auth/tokens';
import { type AuthConfig, DEFAULT_MAX_ANSWER_COST_IN_FLIGHT, DEFAULT_SEND_TIMEOUT_MS } from './config';
import { startGraphQLEndpoint, type ContextFactory } from './http/graphql';
import { Dashboard, DASHBOARD_PREFIX } from './http/dashboard';
import { DEFAULT_OPERATION_LIMITS, type OperationLimits } from './http/operation-limits';
import { PLAYGROUND_PREFIX, Playground } from './http/playground';
import { sendGraphQLError, sendText } from './http/respond';
import { errorFields, type Logger } from './log';
import type { ServiceMetrics } from './metrics';
import type { Store } from './store/store';

export interface StartServerOptions<TContext extends BaseContext> {
  schema: GraphQLSchema;
  /**
   * Builds one request's GraphQL context (its loaders are never shared between requests) from the
   * authenticated principal and the request's execution deadline.
   */
  context: ContextFactory<TContext>;
  /** Access control (contract section 7). Without it the API is open. */
  auth?: AuthConfig;
  /** Only read to answer /readyz. */
  store: Pick<Store, 'checkReadable'>;
  log: Logger;
  host: string;
  /** 0 lets the OS pick a free port. */
  port: number;
  metrics: ServiceMetrics;
  /** Larger request bodies get 413. Default 1 MiB. */
  bodyLimitBytes?: number;
  /** How long /readyz waits for the store before answering 503. Default 5 s. */
  readinessTimeoutMs?: number;
  /** How long close() lets requests in flight finish. Default 10 s. */
  stopGracePeriodMs?: number;
  /** After this long an operation's reads are abandoned and it answers QUERY_TIMEOUT. Default 30 s. */
  executionTimeoutMs?: number;
  /**
   * How long a client may take to send its whole request, headers and body; then it gets 408 and
   * its connection is closed, so a client trickling bytes cannot hold a connection for long.
   * Default 30 s (Node's own is 5 minutes).
   */
  requestTimeoutMs?: number;
  /** Depth, root fields, aliases and cost of one operation. Default DEFAULT_OPERATION_LIMITS. */
  operationLimits?: OperationLimits;
  /**
   * What the GraphQL answers in flight may hold at once, in estimated cost; past it an operation
   * answers 503 SERVER_BUSY. Default DEFAULT_MAX_ANSWER_COST_IN_FLIGHT.
   */
  maxAnswerCostInFlight?: number;
  /** How long an answer may take to reach its client, then its connection is closed. Default 2 minutes. */
  sendTimeoutMs?: number;
  /** Lets the GraphQL endpoint replay answers of usage queries while the store is unchanged. */
  storeVersion?: () => Promise<string | undefined>;
}

export interface RunningServer {
  /** The GraphQL endpoint, `http://host:port/graphql`. */
  url: string;
  port: number;
  /** Stops accepting requests, lets those in flight finish, closes keep-alive connections, stops Apollo. */
  close(): Promise<void>;
}

/** A fixed set of names for the metrics' `route` label. */
type RouteName =
  | 'graphql'
  | 'playground'
  | 'playground_asset'
  | 'dashboard'
  | 'dashboard_asset'
  | 'healthz'
  | 'readyz'
  | 'metrics'
  | 'unmatched';

/**
 * Who may use a route: anyone (the probes, and the playground's and dashboard's files: their user
 * types a token into the page), a valid token once tokens are configured (/metrics), or a GraphQL principal.
 */
type Guard = 'open' | 'token-when-configured' | 'principal';

interface Route {
  name: RouteName;
  methods: readonly string[];
  guard: Guard;
  handle(req: IncomingMessage, res: ServerResponse, url: URL, principal: Principal): Promise<void> | void;
}

const READ_METHODS = ['GET', 'HEAD'] as const;

export async function startServer<TContext extends BaseContext>(
  opts: StartServerOptions<TContext>,
): Promise<RunningServer> {
  const { log, metrics } = opts;
  const playground = new Playground();
  const dashboard = new Dashboard();
  const authenticator = createAuthenticator(opts.auth);
  const requestTimeoutMs = opts.requestTimeoutMs ?? 30_000;
  const httpServer = createServer({
    requestTimeout: requestTimeoutMs,
    // Node requires the headers' deadline within the request's.
    headersTimeout: Math.min(20_000, requestTimeoutMs),
    // How often Node looks for requests past those deadlines (its default, 30 s, would double them).
    connectionsCheckingInterval: Math.max(50, Math.min(1000, requestTimeoutMs / 4)),
  });
  const graphql = await startGraphQLEndpoint({
    schema: opts.schema,
    context: opts.context,
    log,
    metrics,
    httpServer,
    bodyLimitBytes: opts.bodyLimitBytes ?? 1024 * 1024,
    stopGracePeriodMs: opts.stopGracePeriodMs ?? 10_000,
    executionTimeoutMs: opts.executionTimeoutMs ?? 30_000,
    operationLimits: opts.operationLimits ?? DEFAULT_OPERATION_LIMITS,
    maxAnswerCostInFlight: opts.maxAnswerCostInFlight ?? DEFAULT_MAX_ANSWER_COST_IN_FLIGHT,
    sendTimeoutMs: opts.sendTimeoutMs ?? DEFAULT_SEND_TIMEOUT_MS,
    storeVersion: opts.storeVersion,
  });

  const routes = {
    graphql: {
      name: 'graphql',
      methods: ['GET', 'POST'],
      guard: 'principal',
      handle: (req, res, url, principal) => graphql.handle(req, res, url.search, principal),
    },
    playground: {
      name: 'playground',
      methods: READ_METHODS,
      guard: 'open',
      handle: (_req, res) => playground.servePage(res),
    },
    playgroundAsset: {
      name: 'playground_asset',
      methods: READ_METHODS,
      guard: 'open',
      handle: (req, res, url) => playground.serveAsset(req, res, url.pathname),
    },
    dashboard: {
      name: 'dashboard',
      methods: READ_METHODS,
      guard: 'open',
      handle: (req, res) => dashboard.servePage(req, res),
    },
    dashboardAsset: {
      name: 'dashboard_asset',
      methods: READ_METHODS,
      guard: 'open',
      handle: (req, res, url) => dashboard.serveAsset(req, res, url.pathname),
    },
    healthz: {
      name: 'healthz',
      methods: READ_METHODS,
      guard: 'open',
      handle: (_req, res) => sendText(res, 200, 'ok\n'),
    },
    readyz: {
      name: 'readyz',
      methods: READ_METHODS,
      guard: 'open',
      handle: async (_req, res) => {
        const problem = await readinessProblem(opts.store, opts.readinessTimeoutMs ?? 5000);
        if (problem === undefined) sendText(res, 200, 'ready\n');
        else sendText(res, 503, `not ready: ${problem}\n`);
      },
    },
    metrics: {
      name: 'metrics',
      methods: READ_METHODS,
      guard: 'token-when-configured',
      handle: async (_req, res) => {
        const text = await metrics.registry.metrics();
        sendText(res, 200, text, { 'content-type': metrics.registry.contentType });
      },
    },
  } satisfies Record<string, Route>;

  async function routeFor(req: IncomingMessage, url: URL): Promise<Route | undefined> {
    switch (url.pathname) {
      case '/':
        return routes.dashboard;
      case '/graphql':
        return isBrowserNavigation(req) ? routes.playground : routes.graphql;
      case '/healthz':
        return routes.healthz;
      case '/readyz':
        return routes.readyz;
      case '/metrics':
        return routes.metrics;
      default:
        if (url.pathname.startsWith(PLAYGROUND_PREFIX) && playground.hasAsset(url.pathname)) {
          return routes.playgroundAsset;
        }
        if (url.pathname.startsWith(DASHBOARD_PREFIX) && (await dashboard.hasAsset(url.pathname))) {
          return routes.dashboardAsset;
        }
        return undefined;
    }
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = parseTarget(req.url);
    const route = url && (await routeFor(req, url));
    const routeName: RouteName = route?.name ?? 'unmatched';
    const stopTimer = metrics.httpRequestDuration.startTimer({ route: routeName });
    res.once('close', () => {
      stopTimer();
      metrics.httpRequests.inc({ route: routeName, status: String(res.statusCode) });
    });
    if (!url) return sendText(res, 400, 'bad request target\n');
    if (!route) return sendText(res, 404, 'not found\n');
    if (!route.methods.includes(req.method ?? '')) {
      return sendText(res, 405, 'method not allowed\n', { allow: route.methods.join(', ') });
    }
    const principal = admit(route.guard, req, res);
    if (principal) await route.handle(req, res, url, principal);
  }

  /** The principal a request may proceed as, or undefined once it has been answered 401. */
  function admit(guard: Guard, req: IncomingMessage, res: ServerResponse): Principal | undefined {
    const { authorization } = req.headers;
    switch (guard) {
      case 'open':
        return ANONYMOUS;
      case 'token-when-configured':
        if (authenticator.mayReadMetrics(authorization)) return ANONYMOUS;
        refuseUnauthenticated(req, res);
        sendText(res, 401, 'unauthorized: send Authorization: Bearer <token>\n');
        return undefined;
      case 'principal': {
        const authentication = authenticator.authenticate(authorization);
        if (authentication.ok) return authentication.principal;
        refuseUnauthenticated(req, res);
        sendGraphQLError(
          res,
          401,
          'UNAUTHENTICATED',
          authentication.problem === 'missing'
            ? 'Authentication required: send the header Authorization: Bearer <token>'
            : 'The bearer token is not valid',
        );
        return undefined;
      }
    }
  }

  httpServer.on('request', (req: IncomingMessage, res: ServerResponse) => {
    handle(req, res).catch((err: unknown) => {
      log.error('http: request failed', { method: req.method, url: req.url, ...errorFields(err) });
      if (res.headersSent) res.destroy();
      // A GraphQL client reads errors from JSON whatever went wrong.
      else if (parseTarget(req.url)?.pathname === '/graphql')
        sendGraphQLError(res, 500, 'INTERNAL_SERVER_ERROR', 'Internal server error');
      else sendText(res, 500, 'internal server error\n');
    });
  });

  try {
    await new Promise<void>((resolve, reject) => {
      httpServer.once('error', reject);
      httpServer.listen(opts.port, opts.host, () => {
        httpServer.off('error', reject);
        resolve();
      });
    });
  } catch (err) {
    await graphql.stop();
    throw new ListenError(opts.host, opts.port, err);
  }
  httpServer.on('error', (err) => log.error('http: server error', errorFields(err)));

  const port = (httpServer.address() as AddressInfo).port;
  const url = `http://${urlHost(opts.host)}:${port}/graphql`;
  log.info('server listening', { url });
  return { url, port, close: () => graphql.stop() };
}

/**
 * Takes the port until the returned release is called: found taken at once (before a long start,
 * such as the demo's generation), and nothing else can take it meanwhile. Port 0 holds nothing.
 */
export async function holdPort(host: string, port: number): Promise<() => Promise<void>> {
  if (port === 0) return async () => undefined;
  const holder = createServer();
  try {
    await new Promise<void>((resolve, reject) => {
      holder.once('error', reject);
      holder.listen(port, host, () => resolve());
    });
  } catch (err) {
    throw new ListenError(host, port, err);
  }
  return () => new Promise<void>((resolve) => holder.close(() => resolve()));
}

/**
 * Headers of a 401 (RFC 6750). A body left unread is not drained on an unauthenticated client's
 * behalf: the connection closes instead.
 */
function refuseUnauthenticated(req: IncomingMessage, res: ServerResponse): void {
  res.setHeader('www-authenticate', 'Bearer realm="carbonledger"');
  if (!req.complete) res.setHeader('connection', 'close');
}

/** The request target as a URL, or undefined when it is not one (a client's bug, answered 400). */
function parseTarget(target = '/'): URL | undefined {
  try {
    return new URL(target, 'http://localhost');
  } catch {
    return undefined;
  }
}

/**
 * A browser opening the endpoint gets the playground, whatever the query string: GraphiQL keeps
 * the edited query in `?query=`, so a reload must open the playground again. A script's GET (curl,
 * `fetch`) asks for JSON or anything, and runs its query.
 */
function isBrowserNavigation(req: IncomingMessage): boolean {
  return (req.method === 'GET' || req.method === 'HEAD') && (req.headers.accept ?? '').includes('text/html');
}

async function readinessProblem(
  store: Pick<Store, 'checkReadable'>,
  timeoutMs: number,
): Promise<string | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<string>((resolve) => {
    timer = setTimeout(() => resolve(`the store did not answer within ${timeoutMs} ms`), timeoutMs);
  });
  try {
    return await Promise.race([
      // Through then(), so a store that throws instead of rejecting is also "not ready".
      Promise.resolve()
        .then(() => store.checkReadable())
        .then(
          () => undefined,
          (err: unknown) => (err instanceof Error ? err.message : String(err)),
        ),
      timeout,
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** IPv6 literals need brackets in a URL; an unspecified address is reached through loopback. */
function urlHost(host: string): string {
  if (host === '0.0.0.0' || host === '') return '127.0.0.1';
  if (host === '::') return '[::1]';
  return host.includes(':') ? `[${host}]` : host;
}
