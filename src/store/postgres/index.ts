export {
  openPostgresStore,
  PostgresStore,
  postgresStoreOptions,
  type PostgresStoreOptions,
} from './postgres-store';
export { migrate, MIGRATIONS, SchemaTooNewError } from './migrations';
export { redactUrl } from './connect';
export { pruneBefore, type PruneReport } from './retention';
