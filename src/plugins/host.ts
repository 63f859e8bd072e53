import schedule from 'node-schedule';
import type { z } from 'zod';
import type { Clock } from '../domain/clock';
import { errorFields, type Logger } from '../log';
import type { JobClaim, JobClaims } from '../store/job-claims';
import type { Store } from '../store/store';

export interface PluginContext {
  store: Store;
  clock: Clock;
  log: Logger;
  /** Aborted when the run times out or the host stops. */
  signal: AbortSignal;
  /**
   * Reports the outcome of work a run did for another plugin (a source's fetch inside an ingest
   * run), so it is logged and counted as that plugin's run.
   */
  report?(plugin: string, outcome: RunOutcome): void;
}

export interface RunReport {
  ok: boolean;
  detail?: Record<string, unknown>;
}

export interface ScheduledPlugin<C = unknown> {
  /** Unique, kebab-case. */
  name: string;
  /** Where its config sits in the config file (`sinks.perseus`), for error messages; else `name`. */
  configPath?: string;
  configSchema: z.ZodType<C>;
  /** Cron in UTC; five fields, or six with seconds. */
  schedule?: string;
  /** Runs each time the named plugin's run ends (other than skipped), e.g. a sink after the reconcile. */
  after?: string;
  timeoutMs: number;
  /**
   * A frequent job (every minute): the host logs none of its runs, so the log keeps to what
   * matters; the plugin logs when its state changes (failing, recovering).
   */
  quiet?: boolean;
  /** Runs on every process sharing the store, never claimed: what it makes lives in memory. */
  everyProcess?: boolean;
  run(ctx: PluginContext, config: C): Promise<RunReport>;
}

export type RunOutcome =
  | { outcome: 'ok' | 'failed'; report: RunReport }
  | { outcome: 'error'; error: string }
  | { outcome: 'timeout' }
  | { outcome: 'skipped'; reason: string };

/** Where cron jobs come from; tests pass one they can tick by hand. */
export interface Scheduler {
  /**
   * Throws when the expression is not a valid cron. `tick` is told the time the tick was due
   * (epoch ms): the same on every process, whatever their clocks' skew.
   */
  schedule(cron: string, tick: (dueAt?: number) => void): { cancel(): void };
}

export const nodeScheduler: Scheduler = {
  schedule(cron, tick) {
    const job = schedule.scheduleJob({ rule: cron, tz: 'Etc/UTC' }, (fireDate) => tick(fireDate.getTime()));
    if (!job) throw new Error(`"${cron}" is not a valid cron expression`);
    return { cancel: () => job.cancel() };
  },
};

interface Registered {
  plugin: ScheduledPlugin<unknown>;
  config: unknown;
  running?: Promise<RunOutcome>;
  controller?: AbortController;
  job?: { cancel(): void };
}

const KEBAB = /^[a-z][a-z0-9]*(-[a-z0-9]+)*$/;

/**
 * Runs plugins on their schedules. It fails loudly at registration (duplicate or badly named
 * plugin, bad config, bad cron), and a run never rejects, never overlaps another run of the same
 * plugin, and is aborted when it outlives its timeout.
 */
export class PluginHost {
  private readonly plugins = new Map<string, Registered>();
  private stopping = false;
  private started = false;

  constructor(
    private readonly deps: {
      store: Store;
      clock: Clock;
      log: Logger;
      scheduler?: Scheduler;
      /** Told the outcome of every run, scheduled or not, skips included (e.g. to feed metrics). */
      onRun?: (name: string, outcome: RunOutcome) => void;
      /** Where scheduled ticks are claimed when several processes share the store. */
      claims?: JobClaims;
    },
  ) {}

  register<C>(plugin: ScheduledPlugin<C>, rawConfig: unknown): void {
    if (!KEBAB.test(plugin.name)) throw new Error(`plugin name "${plugin.name}" must be kebab-case`);
    if (this.plugins.has(plugin.name)) throw new Error(`plugin "${plugin.name}" is registered twice`);
    const parsed = plugin.configSchema.safeParse(rawConfig);
    if (!parsed.success) {
      const problems = parsed.error.issues.map(
        (i) => `${[plugin.configPath ?? plugin.name, ...i.path.map(String)].join('.')}: ${i.message}`,
      );
      throw new Error(`plugin "${plugin.name}" has a bad config:\n  ${problems.join('\n  ')}`);
    }
    if (plugin.schedule !== undefined) {
      // Validate now, so a bad cron stops start-up rather than silently never running.
      (this.deps.scheduler ?? nodeScheduler).schedule(plugin.schedule, () => undefined).cancel();
    }
    this.plugins.set(plugin.name, { plugin: plugin as ScheduledPlugin<unknown>, config: parsed.data });
  }

  /** Starts every plugin's cron job; a plugin registered `after` another waits for that one's runs. */
  start(): void {
    for (const entry of this.plugins.values()) {
      const after = entry.plugin.after;
      if (after !== undefined && !this.plugins.has(after)) {
        throw new Error(`plugin "${entry.plugin.name}" runs after "${after}", which is not registered`);
      }
    }
    this.started = true;
    const scheduler = this.deps.scheduler ?? nodeScheduler;
    for (const [name, entry] of this.plugins) {
      if (entry.plugin.schedule === undefined) continue;
      entry.job = scheduler.schedule(entry.plugin.schedule, (dueAt) => void this.runTick(name, dueAt));
    }
  }

  isRunning(name: string): boolean {
    return this.plugins.get(name)?.running !== undefined;
  }

  /**
   * A scheduled tick: with `claims`, it runs only here if this process claims the tick, so that of
   * several processes sharing the store one runs each tick. Never rejects.
   */
  private async runTick(name: string, dueAt = this.deps.clock.now()): Promise<RunOutcome> {
    const claims = this.plugins.get(name)?.plugin.everyProcess ? undefined : this.deps.claims;
    if (!claims || this.stopping || this.isRunning(name)) return this.runNow(name);
    let claim: JobClaim | null;
    try {
      claim = await claims.claim(name, dueAt);
    } catch (err) {
      const log = this.deps.log.child({ plugin: name });
      log.error('could not claim the tick', errorFields(err));
      return this.told(name, log, { outcome: 'error', error: `could not claim the tick: ${String(err)}` });
    }
    if (claim === null) {
      const log = this.deps.log.child({ plugin: name });
      return this.told(name, log, { outcome: 'skipped', reason: 'another process claimed this tick' });
    }
    // Which replica ran which tick, for the operator of several.
    this.deps.log.child({ plugin: name }).info('claimed the tick', { tick: new Date(dueAt).toISOString() });
    if (this.stopping || this.isRunning(name)) {
      // Either began while the claim was asked for: runNow reports the skip; the tick is let go.
      await claim.release().catch(() => undefined);
      return this.runNow(name);
    }
    return this.runNow(name, claim);
  }

  /** Runs a plugin now, unless it is already running or the host is stopping. Never rejects. */
  runNow(name: string, claim?: JobClaim): Promise<RunOutcome> {
    const entry = this.plugins.get(name);
    if (!entry) return Promise.resolve({ outcome: 'error', error: `no plugin named "${name}"` });
    const log = this.deps.log.child({ plugin: name });
    if (this.stopping)
      return Promise.resolve(this.told(name, log, { outcome: 'skipped', reason: 'the host is stopping' }));
    if (entry.running) {
      log.warn('previous run still going; this tick is skipped');
      return Promise.resolve(this.told(name, log, { outcome: 'skipped', reason: 'still running' }));
    }
    const controller = new AbortController();
    entry.controller = controller;
    claim?.lost.addEventListener('abort', () => controller.abort(claim.lost.reason), { once: true });
    const running = this.execute(entry, controller, log)
      .finally(() => claim?.release().catch((err) => log.warn('claim not released', errorFields(err))))
      .then((outcome) => this.told(name, log, outcome));
    entry.running = running.finally(() => {
      entry.running = undefined;
      entry.controller = undefined;
    });
    return entry.running;
  }

  /**
   * Hands an outcome to `onRun`, and starts the plugins that run after this one; a throwing
   * listener is logged, never turned into a rejection.
   */
  private told(name: string, log: Logger, outcome: RunOutcome): RunOutcome {
    try {
      this.deps.onRun?.(name, outcome);
    } catch (err) {
      log.error('onRun listener threw', errorFields(err));
    }
    if (outcome.outcome !== 'skipped' && this.started) {
      for (const entry of this.plugins.values()) {
        if (entry.plugin.after === name) void this.runNow(entry.plugin.name);
      }
    }
    return outcome;
  }

  /** What a plugin did inside another's run (see PluginContext.report), logged and counted. */
  private reported(name: string, outcome: RunOutcome): void {
    const log = this.deps.log.child({ plugin: name });
    if (outcome.outcome === 'error') log.warn('fetch failed', { error: outcome.error });
    else if (outcome.outcome === 'timeout') log.warn('fetch timed out');
    try {
      this.deps.onRun?.(name, outcome);
    } catch (err) {
      log.error('onRun listener threw', errorFields(err));
    }
  }

  private async execute(entry: Registered, controller: AbortController, log: Logger): Promise<RunOutcome> {
    const { plugin } = entry;
    const started = this.deps.clock.now();
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      controller.abort(new Error(`run timed out after ${plugin.timeoutMs} ms`));
    }, plugin.timeoutMs);
    try {
      const report = await plugin.run(
        {
          store: this.deps.store,
          clock: this.deps.clock,
          log,
          signal: controller.signal,
          report: (plugin, outcome) => this.reported(plugin, outcome),
        },
        entry.config,
      );
      if (!plugin.quiet) {
        log.info('run finished', { ok: report.ok, ms: this.deps.clock.now() - started, ...report.detail });
      }
      return { outcome: report.ok ? 'ok' : 'failed', report };
    } catch (err) {
      if (timedOut) {
        log.error('run timed out', { timeoutMs: plugin.timeoutMs });
        return { outcome: 'timeout' };
      }
      log.error('run failed', errorFields(err));
      return { outcome: 'error', error: err instanceof Error ? err.message : String(err) };
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * Cancels the schedule and waits for running work; after `graceMs` running work is aborted
   * (and still awaited, so nothing is left writing when this resolves).
   */
  async stop(graceMs = 30_000): Promise<void> {
    this.stopping = true;
    for (const entry of this.plugins.values()) entry.job?.cancel();
    const running = [...this.plugins.values()].filter((e) => e.running);
    if (running.length === 0) return;
    let graceTimer: NodeJS.Timeout | undefined;
    const grace = new Promise<void>((resolve) => (graceTimer = setTimeout(resolve, graceMs)));
    await Promise.race([Promise.all(running.map((e) => e.running)), grace]);
    clearTimeout(graceTimer);
    for (const entry of running) entry.controller?.abort(new Error('the host is stopping'));
    await Promise.all(running.map((e) => e.running));
  }
}
