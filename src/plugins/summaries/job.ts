import { SummariesSchema, type SummariesConfig, type SummaryEmailConfig } from '../../config';
import type { DailySummaryStore } from '../../store/summaries';
import type { ScheduledPlugin } from '../host';
import { daysToSend, listedUsers, type Mailer, sendSummaries, type SummaryEmailDeps } from './email';
import { daysToSummarise, type DaySummarised, summariseDate } from './summarise';

export const SUMMARIES_PLUGIN = 'daily-summaries';

/**
 * The daily job of contract section 11 (`schedule.summaries`): yesterday's summaries, and again
 * those of the `lookbackDays` before it summarised before, whose hours the reconcile (failed hours of the last 7
 * days) or a re-ingest may have changed since they were summarised.
 */
export function summariesPlugin(options: {
  schedule?: string;
  /** A plugin after each of whose runs this one runs (the reconcile). */
  after?: string;
  summaries: DailySummaryStore;
  timeoutMs?: number;
}): ScheduledPlugin<SummariesConfig> {
  return {
    name: SUMMARIES_PLUGIN,
    configPath: 'summaries',
    configSchema: SummariesSchema,
    schedule: options.schedule,
    after: options.after,
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

export const SUMMARY_EMAILS_PLUGIN = 'summary-emails';

/**
 * The daily email job of contract section 11 (`schedule.summaryEmails`): each listed user's
 * summary of yesterday, and again each day of the lookback whose send failed.
 */
export function summaryEmailsPlugin(options: {
  schedule: string;
  stores: Pick<SummaryEmailDeps, 'emails' | 'subscribers'> & { summaries: DailySummaryStore };
  mailer: (email: SummaryEmailConfig) => Mailer;
  timeoutMs?: number;
}): ScheduledPlugin<SummariesConfig> {
  return {
    name: SUMMARY_EMAILS_PLUGIN,
    configPath: 'summaries',
    configSchema: SummariesSchema.refine((config) => config.email !== undefined, {
      error: 'expected an email section',
      path: ['email'],
    }),
    schedule: options.schedule,
    timeoutMs: options.timeoutMs ?? 60 * 60_000,
    async run(ctx, config) {
      const email = config.email!;
      const users = await listedUsers(email, options.stores.subscribers);
      const days = await daysToSend(options.stores.emails, users, ctx.clock.now(), config.lookbackDays);
      const yesterday = days[days.length - 1];
      // The summaries job did not run for it (no process was up then): summarise it now.
      if (!(await options.stores.summaries.isSummarised(yesterday))) {
        await summariseDate(ctx.store, options.stores.summaries, yesterday);
      }
      const mailer = options.mailer(email);
      const totals = {
        sent: 0,
        alreadySent: 0,
        noSummary: 0,
        failed: [] as Array<{ user: string; date: string }>,
      };
      try {
        for (const date of days) {
          const report = await sendSummaries(
            { ...options.stores, mailer, log: ctx.log, signal: ctx.signal },
            email,
            date,
            users,
          );
          totals.sent += report.sent.length;
          totals.alreadySent += report.alreadySent.length;
          totals.noSummary += report.noSummary.length;
          totals.failed.push(...report.failed.map(({ user }) => ({ user, date })));
        }
      } finally {
        mailer.close();
      }
      return { ok: totals.failed.length === 0, detail: { days, ...totals } };
    },
  };
}
