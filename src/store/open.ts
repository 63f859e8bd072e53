import type { StoreConfig } from '../config';
import type { Logger } from '../log';
import { openJsonStore } from './json';
import type { JobClaims } from './job-claims';
import type { Store } from './store';

/** A store and what only some backends provide. */
export type OpenedStore = Store & { jobClaims?: JobClaims };

/**
 * The store the config names, opened for reading (repaired when no writer holds it, or migrated
 * unless `migrate: false`).
 */
export async function openStore(
  config: StoreConfig,
  log: Logger,
  options: { migrate?: boolean } = {},
): Promise<OpenedStore> {
  switch (config.kind) {
    case 'json':
      return openJsonStore({ dataDir: config.dataDir, log });
    case 'postgres': {
      // Loaded only for this backend: a JSON store's process does not hold the driver.
      const { openPostgresStore } = await import('./postgres');
      return openPostgresStore({
        url: config.url,
        readUrl: config.readUrl,
        poolSize: config.poolSize,
        statementTimeoutMs: config.statementTimeoutMs,
        jobLeaseMs: config.jobLeaseMs,
        log,
        migrate: options.migrate,
      });
    }
  }
}
