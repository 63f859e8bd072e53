import { z } from 'zod';
import { fixedClock } from '../../../src/domain/clock';
import { jsonLogger, silentLogger } from '../../../src/log';
import { nodeScheduler, PluginHost, type ScheduledPlugin } from '../../../src/plugins/host';
import type { Store } from '../../../src/store/store';
import { manualScheduler } from '../../support/manual-scheduler';

const store = {} as Store;

function deferred() {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

function plugin(overrides: Partial<ScheduledPlugin<{ n: number }>> = {}): ScheduledPlugin<{ n: number }> {
  return {
    name: 'test-plugin',
    configSchema: z.object({ n: z.number().default(1) }),
    schedule: '5 * * * *',
    timeoutMs: 1000,
    run: async () => ({ ok: true }),
    ...overrides,
  };
}

function host(scheduler = manualScheduler()) {
  return { scheduler, host: new PluginHost({ store, clock: fixedClock(0), log: silentLogger, scheduler }) };
}

describe('PluginHost registration fails loudly', () => {
  it('rejects a duplicate name, a non-kebab name, a bad config and a bad cron', () => {
    const { host: h } = host();
    h.register(plugin(), {});
    expect(() => h.register(plugin(), {})).toThrow('plugin "test-plugin" is registered twice');
    expect(() => h.register(plugin({ name: 'Bad_Name' }), {})).toThrow('must be kebab-case');
    expect(() => h.register(plugin({ name: 'other' }), { n: 'x' })).toThrow(/other\.n: /);
    const real = new PluginHost({ store, clock: fixedClock(0), log: silentLogger, scheduler: nodeScheduler });
    expect(() => real.register(plugin({ schedule: '61 * * * *' }), {})).toThrow('not a valid cron');
  });

  it('hands the run its parsed config with defaults', async () => {
    const seen: unknown[] = [];
    const { host: h } = host();
    h.register(plugin({ run: async (_ctx, config) => (seen.push(config), { ok: true }) }), {});
    await expect(h.runNow('test-plugin')).resolves.toEqual({ outcome: 'ok', report: { ok: true } });
    expect(seen).toEqual([{ n: 1 }]);
  });
});

describe('PluginHost runs', () => {
  it('skips a tick while the previous run is still going', async () => {
    const gate = deferred();
    let runs = 0;
    const { host: h, scheduler } = host();
    h.register(plugin({ run: async () => (runs++, await gate.promise, { ok: true }) }), {});
    h.start();
    scheduler.tick('5 * * * *');
    await expect(h.runNow('test-plugin')).resolves.toEqual({ outcome: 'skipped', reason: 'still running' });
    expect(runs).toBe(1);
    gate.resolve();
    await new Promise((r) => setImmediate(r));
    expect(h.isRunning('test-plugin')).toBe(false);
    await h.runNow('test-plugin');
    expect(runs).toBe(2);
  });

  it('a quiet plugin (the minute poll) has none of its runs logged by the host: it says its own state changes', async () => {
    const lines: string[] = [];
    const h = new PluginHost({
      store,
      clock: fixedClock(0),
      log: jsonLogger((line) => lines.push(line)),
      scheduler: manualScheduler(),
    });
    let ok = true;
    h.register(plugin({ quiet: true, run: async () => ({ ok }) }), {});
    h.register(plugin({ name: 'loud-plugin' }), {});
    await h.runNow('test-plugin');
    expect(lines).toEqual([]);
    await h.runNow('loud-plugin');
    expect(lines).toHaveLength(1);
    ok = false;
    await h.runNow('test-plugin');
    expect(lines.map((line) => JSON.parse(line))).toMatchObject([
      { msg: 'run finished', plugin: 'loud-plugin' },
    ]);
  });

  it('never rejects: a thrown error becomes an outcome', async () => {
    const { host: h } = host();
    h.register(
      plugin({
        run: async () => {
          throw new Error('boom');
        },
      }),
      {},
    );
    await expect(h.runNow('test-plugin')).resolves.toEqual({ outcome: 'error', error: 'boom' });
  });

  it('aborts a run that outlives its timeout', async () => {
    const { host: h } = host();
    let aborted = false;
    h.register(
      plugin({
        timeoutMs: 20,
        run: (ctx) =>
          new Promise((_, reject) =>
            ctx.signal.addEventListener('abort', () => {
              aborted = true;
              reject(ctx.signal.reason);
            }),
          ),
      }),
      {},
    );
    await expect(h.runNow('test-plugin')).resolves.toEqual({ outcome: 'timeout' });
    expect(aborted).toBe(true);
  });

  it('stop() cancels the schedule, waits for running work, then refuses new runs', async () => {
    const gate = deferred();
    let finished = false;
    const { host: h, scheduler } = host();
    h.register(plugin({ run: async () => (await gate.promise, (finished = true), { ok: true }) }), {});
    h.start();
    expect(scheduler.jobs()).toEqual(['5 * * * *']);
    void h.runNow('test-plugin');
    const stopped = h.stop(5000);
    expect(scheduler.jobs()).toEqual([]);
    setTimeout(gate.resolve, 20);
    await stopped;
    expect(finished).toBe(true);
    await expect(h.runNow('test-plugin')).resolves.toEqual({
      outcome: 'skipped',
      reason: 'the host is stopping',
    });
  });

  it('stop() aborts work that outlives the grace period', async () => {
    const { host: h } = host();
    h.register(
      plugin({
        timeoutMs: 60_000,
        run: (ctx) =>
          new Promise((_, reject) => ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason))),
      }),
      {},
    );
    const run = h.runNow('test-plugin');
    await h.stop(10);
    await expect(run).resolves.toEqual({ outcome: 'error', error: 'the host is stopping' });
  });
});
