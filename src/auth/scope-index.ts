/**
 * Which projects an instance has run under: what scoping INSTANCE series needs and the usage data
 * cannot tell (an instance's day entries are split by machine type only). Ingestion knows it for
 * every instance-hour it attributes, so a store-backed index belongs with ingestion; see docs/access.md.
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
