import type { Store } from '../store/store';

/** Instance → every project it was attributed to in any ingested hour. */
export type InstanceProjects = ReadonlyMap<string, ReadonlySet<string>>;

/**
 * Which projects an instance has run under: what scoping INSTANCE series needs and the usage data
 * cannot tell (an instance's day entries are split by machine type only). Ingestion knows it for
 * every instance-hour it attributes and the store keeps their union (`storeScopeIndex`); the README's
 * Access section says what scoped tokens see.
 */
export interface ScopeIndex {
  /** The index as it stands; an instance absent from it is known under no project. */
  read(): Promise<InstanceProjects>;
}

/** Knows no instance, so scoped tokens see no INSTANCE series: the safe answer while nothing records it. */
export const noInstanceProjects: ScopeIndex = { read: async () => new Map() };

/** An index over a known mapping, instance → the projects it ran under. */
export function scopeIndexOf(projectsByInstance: Readonly<Record<string, readonly string[]>>): ScopeIndex {
  const index: InstanceProjects = new Map(
    Object.entries(projectsByInstance).map(([instance, projects]) => [instance, new Set(projects)]),
  );
  return { read: async () => index };
}

/**
 * The store's instance → projects index, kept while the store's version stays the one it was read
 * at: the same version the answer cache keys on (`Store.version`), so an ingestion that
 * widens an instance's projects, narrowing what a scoped token may read, reaches both at once.
 * Undefined from `version` (the store is changing, or cannot tell): read afresh every time. A
 * failed read is not kept.
 */
export function storeScopeIndex(
  store: Pick<Store, 'readInstanceProjects'>,
  version: () => Promise<string | undefined>,
): ScopeIndex {
  let cached: { version: string; index: Promise<InstanceProjects> } | undefined;
  return {
    async read() {
      const now = await version();
      if (now === undefined) return store.readInstanceProjects();
      if (cached?.version !== now) {
        const entry = { version: now, index: store.readInstanceProjects() };
        cached = entry;
        entry.index.catch(() => {
          if (cached === entry) cached = undefined;
        });
      }
      return cached.index;
    },
  };
}
