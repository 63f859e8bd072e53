import { parseArgs } from 'node:util';
import { loadConfig, type Config } from '../config';
import type { Logger } from '../log';
import type { SummaryStores } from '../store/capabilities';
import { DAY_MS, isDate, periodStart } from '../domain/time';
import { jsonLogger } from '../log';
import {
  listedUsers,
  sendSummaries,
  smtpMailer,
  summariseDate,
  type EmailReport,
} from '../plugins/summaries';
import { summaryStoresFor } from '../store/capabilities';
import { openStore } from '../store/open';
import { UsageError } from './usage-error';

const EXIT_SOME_NOT_SENT = 3;

/** `carbonledger summarize --date YYYY-MM-DD`: that day's summaries, made (again) now. */
export async function summarizeCommand(argv: string[], now = Date.now()): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: { date: { type: 'string' }, send: { type: 'boolean' }, config: { type: 'string' } },
    strict: true,
  });
  const date = values.date;
  if (date === undefined) throw new UsageError('--date: give the UTC day to summarise, e.g. 2025-09-21');
  if (!isDate(date)) throw new UsageError(`--date: "${date}" is not a day such as 2025-09-21`);
  if (periodStart(date) + DAY_MS > now) throw new UsageError(`--date: ${date} is not over yet`);
  const config = loadConfig(values.config);
  if (values.send && config.summaries.email === undefined) {
    throw new UsageError('--send: summaries.email is not configured, so there is no one to send to');
  }
  const log = jsonLogger();
  const store = await openStore(config.store, log.child({ component: 'store' }));
  try {
    const stores = summaryStoresFor(store, config.store);
    const done = await summariseDate(store, stores.summaries, date);
    process.stdout.write(
      `summarize ${date}: ${done.users} user(s) summarised; ` +
        `${done.complete ? 'complete' : 'incomplete (some hour not ok; summarised again once repaired)'}\n`,
    );
    if (!values.send) return 0;
    const report = await send(config, stores, date, log);
    process.stdout.write(
      `send ${date}: ${report.sent.length} sent, ${report.alreadySent.length} sent before, ` +
        `${report.noSummary.length} with no usage, ${report.failed.length} not sent\n` +
        report.failed.map(({ user, error }) => `  ${user}: ${error}\n`).join(''),
    );
    return report.failed.length > 0 ? EXIT_SOME_NOT_SENT : 0;
  } finally {
    await store.close();
  }
}

async function send(config: Config, stores: SummaryStores, date: string, log: Logger): Promise<EmailReport> {
  const email = config.summaries.email!;
  const mailer = smtpMailer(email);
  try {
    const users = await listedUsers(email, stores.subscribers);
    return await sendSummaries({ ...stores, mailer, log }, email, date, users);
  } finally {
    mailer.close();
  }
}
