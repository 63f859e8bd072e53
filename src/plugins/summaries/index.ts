import type { Config } from '../../config';
import type { SummaryStores } from '../../store/capabilities';
import type { PluginHost } from '../host';
import { smtpMailer } from './email';
import { summariesPlugin, summaryEmailsPlugin } from './job';

export { SUMMARIES_PLUGIN, SUMMARY_EMAILS_PLUGIN, summariesPlugin, summaryEmailsPlugin } from './job';
export { listedUsers, sendSummaries, smtpMailer, type EmailReport, type Mailer } from './email';
export { summariseDate } from './summarise';

/**
 * The daily jobs of contract section 11: summaries on `schedule.summaries`, and with
 * `summaries.email` their emails on `schedule.summaryEmails`. With `after` (the reconcile, which
 * repairs yesterday's failed hours), summaries also run after each of its runs; when their cron is
 * the reconcile's (by default both `0 2 * * *`) they run only then, never racing the repair.
 */
export function registerSummaries(
  host: PluginHost,
  config: Config,
  stores: SummaryStores,
  options: { mailer?: typeof smtpMailer; after?: string } = {},
): void {
  const { after, mailer = smtpMailer } = options;
  const ownTick = after === undefined || config.schedule.summaries !== config.schedule.reconcile;
  host.register(
    summariesPlugin({
      schedule: ownTick ? config.schedule.summaries : undefined,
      after,
      summaries: stores.summaries,
    }),
    config.summaries,
  );
  if (config.summaries.email !== undefined) {
    host.register(
      summaryEmailsPlugin({ schedule: config.schedule.summaryEmails, stores, mailer }),
      config.summaries,
    );
  }
}
