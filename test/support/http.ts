import type { GraphQLSchema } from 'graphql';

import type { ScopeIndex } from '../../src/auth/scope-index';
import type { AuthConfig } from '../../src/config';
import { systemClock } from '../../src/domain/clock';
import type { Figures } from '../../src/domain/figures';
import type { DayEntry, LedgerHour } from '../../src/domain/usage';
import type { OperationLimits } from '../../src/http/operation-limits';
import { jsonLogger } from '../../src/log';
import { createServiceMetrics, type ServiceMetrics } from '../../src/metrics';
import { buildAppSchema, createRequestContext } from '../../src/app-schema';
import { startServer, type RunningServer } from '../../src/server';
import type { ActiveWorkspaceSource } from '../../src/services/active-workspaces';
import type { Store } from '../../src/store/store';
import { dayEntry, memoryUsageStore, okHour, usage } from './usage-store';

let appSchema: Promise<GraphQLSchema> | undefined;

/** The real schema, built once per test file. */
export function testAppSchema(): Promise<GraphQLSchema> {
  appSchema ??= buildAppSchema();
  return appSchema;
}

/** The day the usage fixture covers; its hour 10:00 is ok and has usage for both projects. */
export const FIXTURE_DAY = '2025-09-21';
const FIXTURE_PROJECTS = ['IDAaaS', 'ISIS'];

/**
 * Usage of two projects in one hour, in an in-memory store. `setBusyKwh` replaces a project's
 * figures, so a test can see a later query bring new numbers.
 */
export function usageFixture(): { store: Store; setBusyKwh(project: string, busyKwh: number): void } {
  const entries: DayEntry[] = [];
  const ledger: Record<string, LedgerHour> = {};
  for (let hour = 0; hour < 24; hour++) {
    ledger[`${FIXTURE_DAY}T${String(hour).padStart(2, '0')}:00:00Z`] = okHour();
  }
  const setBusyKwh = (project: string, busyKwh: number) => {
    const figures: Partial<Figures> = {
      // 12 W per busy core (the default energy model): 1 kWh is 300,000 CPU-seconds.
      busyCpuSeconds: busyKwh * 300_000,
      busyKwh,
      busyGco2eq: busyKwh * 200,
    };
    const entry = dayEntry('PROJECT', project, FIXTURE_DAY, { '10:00': usage({ ARTEMIS_MATLAB: figures }) });
    const at = entries.findIndex((e) => e.key === project);
    if (at < 0) entries.push(entry);
    else entries[at] = entry;
  };
  FIXTURE_PROJECTS.forEach((project, i) => setBusyKwh(project, 1.5 * (i + 1)));
  return { store: memoryUsageStore({ entries, ledger }), setBusyKwh };
}

export interface TestServer extends RunningServer {
  origin: string;
  metrics: ServiceMetrics;
  /** Parsed log lines. */
  logs: Array<Record<string, unknown>>;
  /** Makes /readyz fail with this reason; undefined makes it pass. */
  setStoreProblem(reason: string | undefined): void;
}

export interface TestServerOptions {
  /** Defaults to `usageFixture().store`; a plain object, as it is spread into a wrapper. */
  store?: Store;
  readinessTimeoutMs?: number;
  /** Defaults to a fresh `createServiceMetrics()`. */
  metrics?: ServiceMetrics;
  /** Access control; none: the API is open. */
  auth?: AuthConfig;
  scopeIndex?: ScopeIndex;
  activeWorkspaces?: ActiveWorkspaceSource;
  executionTimeoutMs?: number;
  operationLimits?: OperationLimits;
  /** What the answer cache keys on; none: nothing is cached. */
  storeVersion?: () => Promise<string | undefined>;
  /** How long a client may take to send its whole request. */
  requestTimeoutMs?: number;
  maxAnswerCostInFlight?: number;
  sendTimeoutMs?: number;
}

/** Starts the real server and schema on an OS-picked loopback port, with captured logs. */
export async function startTestServer(opts: TestServerOptions = {}): Promise<TestServer> {
  const logs: Array<Record<string, unknown>> = [];
  const log = jsonLogger((line) => logs.push(JSON.parse(line)));
  const fixtureStore = opts.store ?? usageFixture().store;
  let storeProblem: string | undefined;
  const store: Store = {
    ...fixtureStore,
    checkReadable: async () => {
      if (storeProblem !== undefined) throw new Error(storeProblem);
      await fixtureStore.checkReadable();
    },
  };
  const metrics = opts.metrics ?? createServiceMetrics();
  const server = await startServer({
    schema: await testAppSchema(),
    context: ({ principal, signal }) =>
      createRequestContext({
        store,
        clock: systemClock,
        log,
        principal,
        signal,
        scopeIndex: opts.scopeIndex,
        activeWorkspaces: opts.activeWorkspaces,
      }),
    store,
    log,
    host: '127.0.0.1',
    port: 0,
    metrics,
    readinessTimeoutMs: opts.readinessTimeoutMs,
    auth: opts.auth,
    executionTimeoutMs: opts.executionTimeoutMs,
    operationLimits: opts.operationLimits,
    storeVersion: opts.storeVersion,
    requestTimeoutMs: opts.requestTimeoutMs,
    maxAnswerCostInFlight: opts.maxAnswerCostInFlight,
    sendTimeoutMs: opts.sendTimeoutMs,
  });
  return {
    ...server,
    origin: new URL(server.url).origin,
    metrics,
    logs,
    setStoreProblem: (reason) => {
      storeProblem = reason;
    },
  };
}
