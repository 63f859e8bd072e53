import type { Clock } from '../domain/clock';
import type { Store } from '../store/store';

/**
 * Which projects an instance has run under: what scoping INSTANCE series needs and the usage data
 * cannot tell (an instance's day entries are split by machine type only). Ingestion knows it for
 * every instance-hour it attributes and the store keeps their union (`storeScopeIndex`); the README's
 * Access section says what scoped tokens see.
 */
export interface ScopeIndex {
  /** Every project the instance was attributed to in any ingested hour; empty when unknown. */
  projectsOfInstance(instance: string): Promise<ReadonlySet<string>>;
}

const NONE: ReadonlySet<string> = new Set();

/** Knows no instance, so scoped tokens see no INSTANCE series: the safe answer while nothing records it. */
export const noInstanceProjects: ScopeIndex = { projectsOfInstance: async () => NONE };

/** An index over a known mapping, instance → the projects it ran under. */
export function scopeIndexOf(projectsByInstance: Readonly<Record<string, readonly string[]>>): ScopeIndex {
  const index = new Map(
    Object.entries(projectsByInstance).map(([instance, projects]) => [instance, new Set(projects)]),
  );
  return { projectsOfInstance: async (instance) => index.get(instance) ?? NONE };
}

/**
 * The store's instance → projects index, read at most once per `maxAgeMs`: it changes only when an
 * ingest writes, and a request may ask about hundreds of instances. A failed read is not kept.
 */
export function storeScopeIndex(
  store: Pick<Store, 'readInstanceProjects'>,
  clock: Clock,
  maxAgeMs = 30_000,
): ScopeIndex {
  let cached: { readAt: number; index: Promise<Map<string, ReadonlySet<string>>> } | undefined;
  return {
    async projectsOfInstance(instance) {
      const now = clock.now();
      if (cached === undefined || now - cached.readAt >= maxAgeMs) {
        const index = store.readInstanceProjects();
        const entry = { readAt: now, index };
        cached = entry;
        index.catch(() => {
          if (cached === entry) cached = undefined;
        });
      }
      return (await cached.index).get(instance) ?? NONE;
    },
  };
}
