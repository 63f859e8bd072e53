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
 * `summaries.email` their emails on `schedule.summaryEmails`.
 */
export function registerSummaries(
  host: PluginHost,
  config: Config,
  stores: SummaryStores,
  mailer: typeof smtpMailer = smtpMailer,
): void {
  host.register(
    summariesPlugin({ schedule: config.schedule.summaries, summaries: stores.summaries }),
    config.summaries,
  );
  if (config.summaries.email !== undefined) {
    host.register(
      summaryEmailsPlugin({ schedule: config.schedule.summaryEmails, stores, mailer }),
      config.summaries,
    );
  }
}
