/**
 * PostgreSQL advisory locks of this application, taken as pg_advisory_*lock(NAMESPACE, lock):
 * the namespace ("cled" in ASCII) keeps them apart from any other application's on the server.
 */
export const LOCK_NAMESPACE = 0x636c6564;

export const LOCKS = {
  /** Migrations: replicas starting together migrate once. */
  migration: 1,
  /** Creating a month's partition. */
  partition: 2,
  /** Applying a batch: batches of every process apply one after another. */
  batch: 3,
  /** The store's one writer (Store.openWriter), held for a writer's life. */
  writer: 4,
} as const;
