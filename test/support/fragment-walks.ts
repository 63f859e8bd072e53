import { Kind, type DocumentNode } from 'graphql';

/**
 * Counts how often anything reads a fragment definition's selection set: how a test tells a walk
 * that visits each fragment once from one that expands every spread (exponential in a bomb).
 */
export function countFragmentWalks(document: DocumentNode): () => number {
  let walks = 0;
  for (const definition of document.definitions) {
    if (definition.kind !== Kind.FRAGMENT_DEFINITION) continue;
    const { selectionSet } = definition;
    Object.defineProperty(definition, 'selectionSet', {
      get: () => {
        walks++;
        return selectionSet;
      },
    });
  }
  return () => walks;
}
