import type { Level } from '../domain/levels';
import { ForbiddenError } from '../errors';
import type { ActiveWorkspaceRecord, ActiveWorkspaceSource } from '../services/active-workspaces';
import { type Principal, seesEverything } from './principal';
import type { InstanceProjects, ScopeIndex } from './scope-index';

/**
 * What one request may read (contract section 7; the README's "Access" says it for users). Admin
 * and anonymous principals read everything. A scoped token reads:
 * - PROJECT series and keys of its projects; USER series and keys of its users;
 * - INSTANCE series and keys of instances that only ever ran under its projects: an instance that
 *   also ran under another project would show that project's usage too;
 * - active workspaces of its projects, and those its users hold;
 * and nothing of EXPERIMENT or MACHINE, nor machineMetrics: those figures sum every project's usage
 * and the store keeps no split by project to filter them with.
 */
export interface Access {
  /** Throws FORBIDDEN naming the keys out of scope, if any; checks all keys before any is read. */
  requireSeries(level: Level, keys: readonly string[]): Promise<void>;
  /** The keys in scope, in the order given. */
  visibleKeys(level: Level, keys: readonly string[]): Promise<string[]>;
  /** Throws FORBIDDEN unless machineMetrics is open to this principal. */
  requireMachineMetrics(): void;
  /** The source, showing only the workspaces in scope. */
  visibleWorkspaces(source: ActiveWorkspaceSource): ActiveWorkspaceSource;
}

/** How many refused keys an error names; the rest are counted. */
const NAMED_KEYS = 5;

export function accessFor(principal: Principal, scopeIndex: ScopeIndex): Access {
  if (seesEverything(principal)) {
    return {
      requireSeries: async () => undefined,
      visibleKeys: async (_level, keys) => [...keys],
      requireMachineMetrics: () => undefined,
      visibleWorkspaces: (source) => source,
    };
  }
  const { name, projects, users } = principal;

  // Read once per request, like the loaders: an INSTANCE level read asks about many instances, and
  // one request sees one index.
  let index: Promise<InstanceProjects> | undefined;
  const isInstanceInScope = async (instance: string): Promise<boolean> => {
    index ??= scopeIndex.read();
    const ranUnder = (await index).get(instance);
    return (
      ranUnder !== undefined && ranUnder.size > 0 && [...ranUnder].every((project) => projects.has(project))
    );
  };

  const inScope = async (level: Level, key: string): Promise<boolean> => {
    switch (level) {
      case 'PROJECT':
        return projects.has(key);
      case 'USER':
        return users.has(key);
      case 'INSTANCE':
        return isInstanceInScope(key);
      case 'EXPERIMENT':
      case 'MACHINE':
        return false;
    }
  };

  const keysInScope = async (level: Level, keys: readonly string[]): Promise<boolean[]> =>
    Promise.all(keys.map((key) => inScope(level, key)));

  return {
    async requireSeries(level, keys) {
      if (level === 'EXPERIMENT' || level === 'MACHINE') {
        throw new ForbiddenError(
          `Token "${name}" may not read ${level} series: they sum every project's usage, so only admin tokens may`,
        );
      }
      const allowed = await keysInScope(level, keys);
      const refused = keys.filter((_key, i) => !allowed[i]);
      if (refused.length === 0) return;
      const named = refused
        .slice(0, NAMED_KEYS)
        .map((key) => JSON.stringify(key))
        .join(', ');
      const more = refused.length > NAMED_KEYS ? ` and ${refused.length - NAMED_KEYS} more` : '';
      throw new ForbiddenError(`Token "${name}" may not read the ${level} series of ${named}${more}`);
    },
    async visibleKeys(level, keys) {
      const allowed = await keysInScope(level, keys);
      return keys.filter((_key, i) => allowed[i]);
    },
    requireMachineMetrics() {
      throw new ForbiddenError(
        `Token "${name}" may not read machineMetrics: they average every project's usage, so only admin tokens may`,
      );
    },
    visibleWorkspaces(source) {
      const visible = (workspace: ActiveWorkspaceRecord) =>
        projects.has(workspace.project) || (workspace.user !== null && users.has(workspace.user));
      return { list: async () => (await source.list()).filter(visible), status: () => source.status() };
    },
  };
}
