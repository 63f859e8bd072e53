import { parseArgs } from 'node:util';
import { loadConfig } from '../config';
import { jsonLogger } from '../log';
import { openPostgresStore, postgresStoreOptions, pruneBefore } from '../store/postgres';
import { withWriter } from '../store/store';
import { UsageError } from './usage-error';

/** `carbonledger prune --before YYYY-MM`: see COMMAND_HELP.prune. */
export async function pruneCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: { before: { type: 'string' }, config: { type: 'string' } },
    strict: true,
  });
  if (values.before === undefined || !/^\d{4}-(0[1-9]|1[0-2])$/.test(values.before)) {
    throw new UsageError('--before: expected a month, YYYY-MM (every hour before it is forgotten)');
  }
  const config = loadConfig(values.config);
  if (config.store.kind !== 'postgres') {
    throw new UsageError(
      `store.kind: "${config.store.kind}" keeps no partitions to drop (only "postgres" does); ` +
        'a JSON store keeps every hour it holds: copy-store it into PostgreSQL to prune there',
    );
  }
  const log = jsonLogger();
  const store = await openPostgresStore({ ...postgresStoreOptions(config.store), log });
  try {
    // The writer: no ingestion is part-way while the months go.
    const report = await withWriter(store, { purpose: 'carbonledger prune', waitMs: 600_000 }, () =>
      pruneBefore(store.pool, values.before!),
    );
    process.stdout.write(
      report.months.length === 0 && report.ledgerHours === 0
        ? `carbonledger prune: nothing before ${values.before}\n`
        : `carbonledger prune: forgot ${report.ledgerHours} hours before ${values.before}` +
            ` (dropped the hours of ${report.months.length === 0 ? 'no month' : report.months.join(', ')});` +
            ' day totals and roll-ups follow\n',
    );
    return 0;
  } finally {
    await store.close();
  }
}
