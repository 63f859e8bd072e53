import { Kind, type DocumentNode, type FragmentDefinitionNode, type OperationDefinitionNode } from 'graphql';

/**
 * The names of the fields an operation selects at its root, each once, in order of appearance,
 * through inline fragments and fragment spreads. Each named fragment is walked once: a fragment
 * that spreads the next one twice, level after level (a "fragment bomb"), would otherwise cost time
 * exponential in the document's length, and a request of under 1 KB could stall the server.
 */
export function rootFieldNames(operation: OperationDefinitionNode, document: DocumentNode): string[] {
  const fragments = new Map(
    document.definitions
      .filter(
        (definition): definition is FragmentDefinitionNode => definition.kind === Kind.FRAGMENT_DEFINITION,
      )
      .map((fragment) => [fragment.name.value, fragment]),
  );
  const names = new Set<string>();
  const walked = new Set<string>();
  const walk = (selectionSet: OperationDefinitionNode['selectionSet']): void => {
    for (const selection of selectionSet.selections) {
      if (selection.kind === Kind.FIELD) names.add(selection.name.value);
      else if (selection.kind === Kind.INLINE_FRAGMENT) walk(selection.selectionSet);
      else if (!walked.has(selection.name.value)) {
        walked.add(selection.name.value);
        const fragment = fragments.get(selection.name.value);
        if (fragment) walk(fragment.selectionSet);
      }
    }
  };
  walk(operation.selectionSet);
  return [...names];
}
