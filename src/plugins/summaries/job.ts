import { SummariesSchema, type SummariesConfig } from '../../config';
import type { DailySummaryStore } from '../../store/summaries';
import type { ScheduledPlugin } from '../host';
import { daysToSummarise, type DaySummarised, summariseDate } from './summarise';

export const SUMMARIES_PLUGIN = 'daily-summaries';

/**
 * The daily job of contract section 11 (`schedule.summaries`): yesterday's summaries, and again
 * those of the days before it that were incomplete when summarised, once their hours are repaired
 * (the reconcile retries failed hours of the last 7 days).
 */
export function summariesPlugin(options: {
  schedule: string;
  summaries: DailySummaryStore;
  timeoutMs?: number;
}): ScheduledPlugin<SummariesConfig> {
  return {
    name: SUMMARIES_PLUGIN,
    configPath: 'summaries',
    configSchema: SummariesSchema,
    schedule: options.schedule,
    timeoutMs: options.timeoutMs ?? 30 * 60_000,
    async run(ctx, config) {
      const days = await daysToSummarise(options.summaries, ctx.clock.now(), config.lookbackDays);
      const done: DaySummarised[] = [];
      for (const date of days) {
        ctx.signal.throwIfAborted();
        done.push(await summariseDate(ctx.store, options.summaries, date));
      }
      return {
        ok: true,
        detail: {
          days: done.map((day) => day.date),
          users: done.reduce((sum, day) => sum + day.users, 0),
          incomplete: done.filter((day) => !day.complete).map((day) => day.date),
        },
      };
    },
  };
}
