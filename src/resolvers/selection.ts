import { Kind, type GraphQLResolveInfo, type SelectionSetNode } from 'graphql';

/**
 * Whether the operation may read `path` (field names below the resolved field, aliases ignored)
 * anywhere: through inline fragments and named fragments too. Conservative: `@skip`/`@include` are
 * not evaluated, so a field that might be read counts as read; a false answer is always safe to act on.
 */
export function mayRead(info: GraphQLResolveInfo, path: readonly string[]): boolean {
  let sets: SelectionSetNode[] = info.fieldNodes.flatMap((node) =>
    node.selectionSet ? [node.selectionSet] : [],
  );
  for (const name of path) {
    const next: SelectionSetNode[] = [];
    let found = false;
    const visit = (set: SelectionSetNode, fragmentsSeen: Set<string>): void => {
      for (const selection of set.selections) {
        if (selection.kind === Kind.FIELD) {
          if (selection.name.value !== name) continue;
          found = true;
          if (selection.selectionSet) next.push(selection.selectionSet);
        } else if (selection.kind === Kind.INLINE_FRAGMENT) {
          visit(selection.selectionSet, fragmentsSeen);
        } else {
          const fragment = info.fragments[selection.name.value];
          // Validation guarantees the fragment exists; should it not, assume the worst.
          if (fragment === undefined) found = true;
          else if (!fragmentsSeen.has(fragment.name.value)) {
            visit(fragment.selectionSet, new Set([...fragmentsSeen, fragment.name.value]));
          }
        }
      }
    };
    for (const set of sets) visit(set, new Set());
    if (!found) return false;
    sets = next;
  }
  return true;
}
