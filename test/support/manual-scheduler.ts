import type { Scheduler } from '../../src/plugins/host';

/** A scheduler whose jobs fire only when a test ticks them. */
export function manualScheduler(): Scheduler & {
  tick(cron: string, dueAt?: number): void;
  jobs(): string[];
} {
  const jobs = new Map<number, { cron: string; tick: (dueAt?: number) => void }>();
  let next = 0;
  return {
    schedule(cron, tick) {
      if (cron.trim().split(/\s+/).length < 5) throw new Error(`"${cron}" is not a valid cron expression`);
      const id = next++;
      jobs.set(id, { cron, tick });
      return { cancel: () => jobs.delete(id) };
    },
    /** Fires the jobs of `cron`, as due at `dueAt` (epoch ms) when given. */
    tick(cron, dueAt) {
      for (const job of [...jobs.values()]) if (job.cron === cron) job.tick(dueAt);
    },
    jobs: () => [...jobs.values()].map((j) => j.cron),
  };
}
