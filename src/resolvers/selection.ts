import { Kind, type GraphQLResolveInfo, type SelectionSetNode } from 'graphql';

/**
 * Whether the operation may read `path` (field names below the resolved field, aliases ignored)
 * anywhere: through inline fragments and named fragments too. Conservative: `@skip`/`@include` are
 * not evaluated, so a field that might be read counts as read; a false answer is always safe to act on.
 * Each named fragment is walked at most once per step of the path: a fragment that spreads the next
 * one twice, level after level (a "fragment bomb"), would otherwise cost time exponential in the
 * document's length. Linear in the document's size times the path's length.
 */
export function mayRead(info: GraphQLResolveInfo, path: readonly string[]): boolean {
  let sets: SelectionSetNode[] = info.fieldNodes.flatMap((node) =>
    node.selectionSet ? [node.selectionSet] : [],
  );
  for (const name of path) {
    const next = new Set<SelectionSetNode>();
    const fragmentsWalked = new Set<string>();
    let found = false;
    const visit = (set: SelectionSetNode): void => {
      for (const selection of set.selections) {
        if (selection.kind === Kind.FIELD) {
          if (selection.name.value !== name) continue;
          found = true;
          if (selection.selectionSet) next.add(selection.selectionSet);
        } else if (selection.kind === Kind.INLINE_FRAGMENT) {
          visit(selection.selectionSet);
        } else if (!fragmentsWalked.has(selection.name.value)) {
          fragmentsWalked.add(selection.name.value);
          const fragment = info.fragments[selection.name.value];
          // Validation guarantees the fragment exists; should it not, assume the worst.
          if (fragment === undefined) found = true;
          else visit(fragment.selectionSet);
        }
      }
    };
    for (const set of sets) visit(set);
    if (!found) return false;
    sets = [...next];
  }
  return true;
}
