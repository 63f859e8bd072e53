import { parseArgs } from 'node:util';
import { loadConfig } from '../config';
import { DAY_MS, isDate, periodStart } from '../domain/time';
import { jsonLogger } from '../log';
import { summariseDate } from '../plugins/summaries';
import { summaryStoresFor } from '../store/capabilities';
import { openStore } from '../store/open';
import { UsageError } from './usage-error';

/** `carbonledger summarize --date YYYY-MM-DD`: that day's summaries, made (again) now. */
export async function summarizeCommand(argv: string[], now = Date.now()): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: { date: { type: 'string' }, config: { type: 'string' } },
    strict: true,
  });
  const date = values.date;
  if (date === undefined) throw new UsageError('--date: give the UTC day to summarise, e.g. 2025-09-21');
  if (!isDate(date)) throw new UsageError(`--date: "${date}" is not a day such as 2025-09-21`);
  if (periodStart(date) + DAY_MS > now) throw new UsageError(`--date: ${date} is not over yet`);
  const config = loadConfig(values.config);
  const log = jsonLogger();
  const store = await openStore(config.store, log.child({ component: 'store' }));
  try {
    const { summaries } = summaryStoresFor(store, config.store);
    const done = await summariseDate(store, summaries, date);
    process.stdout.write(
      `summarize ${date}: ${done.users} user(s) summarised; ` +
        `${done.complete ? 'complete' : 'incomplete (some hour not ok; summarised again once repaired)'}\n`,
    );
    return 0;
  } finally {
    await store.close();
  }
}
