import type { IntensityCache } from '../../domain/intensity-cache';
import { z } from 'zod';
import type { Config } from '../../config';
import { systemClock, type Clock } from '../../domain/clock';
import { floorHour, HOUR_MS } from '../../domain/time';
import { errorFields, silentLogger, type Logger } from '../../log';
import type { ActiveWorkspaceRecord, ActiveWorkspaceSource } from '../../services/active-workspaces';
import { createCarbonSource } from '../carbon';
import type { RunReport, ScheduledPlugin } from '../host';
import { createPrometheusClient, PrometheusError } from '../prometheus/client';
import { emptyRegistry, loadWorkspaceRegistry } from '../workspaces/registry';
import { intensityFrom, liveUsage, readingsOf, type RunTally } from './live-usage';
import { liveQueries } from './promql';

export const ACTIVE_WORKSPACES_PLUGIN = 'active-workspaces';

/**
 * A poll is three instant queries and a look at the carbon source; one still going after this is
 * given up, so a hung Prometheus costs a tick or so of the default one-minute schedule.
 */
const POLL_TIMEOUT_MS = 50_000;
/** How many left-out series a warning names. */
const SKIPPED_SHOWN = 5;
/** Once a poll has failed, the last good snapshot counts as current until it is this old. */
export const SNAPSHOT_KEPT_AFTER_FAILURE_MS = 5 * 60_000;
/** With `pollOnRead`, a read polls again once the last poll began at least this long ago. */
export const POLL_ON_READ_EVERY_MS = 60_000;

/** The parts of the config the poller reads. */
export type ActivePollerSettings = Pick<
  Config,
  'prometheus' | 'workspaces' | 'energy' | 'carbon' | 'store' | 'schedule'
>;

export interface ActivePollerDeps {
  config: ActivePollerSettings;
  log: Logger;
  /** Used for Prometheus and for the carbon intensity API. */
  fetch?: typeof fetch;
  /** The store's carbon-intensity cache, shared with ingestion. */
  intensityCache?: IntensityCache;
  /** For the polls `list()` starts and the snapshot's age; scheduled runs use the host's clock. */
  clock?: Clock;
  /**
   * Poll when read, at most every POLL_ON_READ_EVERY_MS, for a service that does not run the
   * poller on its schedule (`serve --no-schedule`): otherwise the first snapshot would stay forever.
   */
  pollOnRead?: boolean;
}

/** What one successful poll found. */
export interface ActiveSnapshot {
  /** Epoch ms of the poll. */
  takenAt: number;
  workspaces: readonly ActiveWorkspaceRecord[];
}

export interface ActivePoller {
  /**
   * Configured when created (its source shares the poller's state), so the host has nothing to
   * validate: register it with `undefined`.
   */
  plugin: ScheduledPlugin<undefined>;
  /**
   * The latest successful snapshot's workspaces (none before the first), and its status: stale
   * when there is none, or when the last poll failed and it is older than
   * SNAPSHOT_KEPT_AFTER_FAILURE_MS.
   */
  source: ActiveWorkspaceSource;
  /** The latest successful snapshot; undefined until a poll succeeds. */
  snapshot(): ActiveSnapshot | undefined;
}

/**
 * The active-workspace poller: on its schedule it asks Prometheus which instances run now and how
 * many CPU seconds each has spent since boot, attributes them as ingestion does and costs them (see
 * `liveUsage` for how carbon is counted). A failed poll keeps the previous snapshot.
 */
export function createActivePoller(deps: ActivePollerDeps): ActivePoller {
  const { config } = deps;
  const log = deps.log.child({ plugin: ACTIVE_WORKSPACES_PLUGIN });
  // Its retries are not logged: a poll every minute would say each one, and the failed poll's
  // reason already counts the attempts.
  const client = createPrometheusClient({
    url: config.prometheus.url,
    timeoutMs: config.prometheus.timeoutMs,
    attempts: config.prometheus.attempts,
    fetch: deps.fetch,
    log: silentLogger,
  });
  const carbon = createCarbonSource(config.carbon, {
    cache: deps.intensityCache,
    log,
    fetch: deps.fetch,
  });
  const queries = liveQueries(config.prometheus.idleModes, config.prometheus.selector);

  let latest: ActiveSnapshot | undefined;
  let tallies = new Map<string, RunTally>();
  let polling: Promise<RunReport> | undefined;
  /** When the last poll began; undefined before the first. */
  let lastPollAt: number | undefined;
  let lastPollFailed = false;
  /** Polls failed in a row, and the reason last logged: a poll that fails as the last did is not logged again. */
  let failedInARow = 0;
  let loggedReason: string | undefined;

  async function poll(clock: Clock, signal: AbortSignal, runLog: Logger): Promise<RunReport> {
    const now = clock.now();
    try {
      // When one query fails the poll has failed: stop the others rather than let them retry.
      const sibling = new AbortController();
      const pollSignal = AbortSignal.any([signal, sibling.signal]);
      const ask = (query: string) =>
        client.query({ query, time: now / 1000 }, pollSignal).catch((err: unknown) => {
          sibling.abort();
          throw err;
        });
      const [idle, busy, bootTimes] = await Promise.all([
        ask(queries.idle),
        ask(queries.busy),
        ask(queries.bootTime),
      ]);
      const { readings, skipped } = readingsOf(idle, busy, bootTimes);
      if (skipped.length > 0) {
        runLog.warn('running series left out of the active workspaces', {
          count: skipped.length,
          series: skipped.slice(0, SKIPPED_SHOWN),
        });
      }
      // Read afresh each poll, like ingestion does each run, so an edited registry counts at once.
      const registry = config.workspaces.file
        ? await loadWorkspaceRegistry(config.workspaces.file)
        : emptyRegistry;
      const earliest = readings.reduce(
        (min, reading) => Math.min(min, intensityFrom(reading, tallies.get(reading.key), now)),
        now,
      );
      const intensities = await carbon.intensities(floorHour(earliest), floorHour(now) + HOUR_MS, signal);
      const usage = liveUsage(readings, tallies, {
        now,
        labels: config.prometheus.labels,
        registry,
        energy: config.energy,
        intensities,
      });
      tallies = usage.tallies;
      latest = { takenAt: now, workspaces: usage.workspaces };
      if (failedInARow > 0) runLog.info('active-workspace poll recovered', { failedPolls: failedInARow });
      lastPollFailed = false;
      failedInARow = 0;
      loggedReason = undefined;
      return { ok: true, detail: { workspaces: usage.workspaces.length, leftOut: skipped.length } };
    } catch (err) {
      lastPollFailed = true;
      failedInARow += 1;
      const reason = err instanceof Error ? err.message : String(err);
      if (reason !== loggedReason) {
        loggedReason = reason;
        const snapshotTakenAt = latest === undefined ? null : new Date(latest.takenAt).toISOString();
        // Prometheus being away is routine and its message says it all; anything else gets its stack.
        const why = err instanceof PrometheusError ? { reason } : errorFields(err);
        runLog.warn('active-workspace poll failed; keeping the previous snapshot until it recovers', {
          ...why,
          snapshotTakenAt,
        });
      }
      return { ok: false, detail: { error: err instanceof Error ? err.message : String(err) } };
    }
  }

  /** One poll at a time: a caller arriving while one runs shares it. */
  function pollOnce(clock: Clock, signal: AbortSignal, runLog: Logger): Promise<RunReport> {
    if (polling === undefined) {
      lastPollAt = clock.now();
      polling = poll(clock, signal, runLog).finally(() => {
        polling = undefined;
      });
    }
    return polling;
  }

  const readClock = deps.clock ?? systemClock;

  /** Whether a read should poll (or wait for the poll under way) before it answers. */
  function readWaitsForPoll(now: number): boolean {
    // Live workspaces come from Prometheus alone: with it disabled there is nothing to ask.
    if (!config.prometheus.enabled) return false;
    if (polling !== undefined) return latest === undefined || deps.pollOnRead === true;
    if (lastPollAt === undefined) return true;
    return deps.pollOnRead === true && now - lastPollAt >= POLL_ON_READ_EVERY_MS;
  }

  return {
    plugin: {
      name: ACTIVE_WORKSPACES_PLUGIN,
      // Each replica answers activeWorkspaces from its own poll.
      everyProcess: true,
      configSchema: z.undefined(),
      schedule: config.schedule.active,
      timeoutMs: POLL_TIMEOUT_MS,
      quiet: true,
      run: (ctx) => pollOnce(ctx.clock, ctx.signal, ctx.log),
    },
    source: {
      async list() {
        // The first read after start-up waits for the first poll, so it is not empty; on its
        // schedule, a failed poll is retried by the next tick, not by every read.
        if (readWaitsForPoll(readClock.now())) {
          await pollOnce(readClock, AbortSignal.timeout(POLL_TIMEOUT_MS), log);
        }
        return latest?.workspaces ?? [];
      },
      status() {
        const tooOld =
          latest !== undefined && readClock.now() - latest.takenAt > SNAPSHOT_KEPT_AFTER_FAILURE_MS;
        return {
          takenAt: latest?.takenAt ?? null,
          lastPollFailed,
          stale: latest === undefined || (lastPollFailed && tooOld),
        };
      },
    },
    snapshot: () => latest,
  };
}
