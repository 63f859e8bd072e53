import { Kind, parse, type OperationDefinitionNode } from 'graphql';
import { rootFieldNames } from '../../../src/http/root-fields';
import { countFragmentWalks } from '../../support/fragment-walks';

function rootFieldsOf(query: string): string[] {
  const document = parse(query);
  const operation = document.definitions.find(
    (definition): definition is OperationDefinitionNode => definition.kind === Kind.OPERATION_DEFINITION,
  );
  if (!operation) throw new Error('no operation');
  return rootFieldNames(operation, document);
}

describe('rootFieldNames', () => {
  it('names each root field once, in order, through inline fragments and fragment spreads', () => {
    expect(
      rootFieldsOf(`
        { a: usageKeys(level: USER) ...Both ... on Query { machineMetrics { id } } usageKeys(level: PROJECT) }
        fragment Both on Query { activeWorkspaces { id } ...Series }
        fragment Series on Query { usageSeries(level: PROJECT, key: "p", from: "2025-01-01", to: "2025-01-02", granularity: DAY) { id } }`),
    ).toEqual(['usageKeys', 'activeWorkspaces', 'usageSeries', 'machineMetrics']);
  });

  it('walks each fragment once, so a fragment bomb (2^24 copies of a field) costs a pass over the document', () => {
    const levels = 24;
    const fragments = Array.from(
      { length: levels },
      (_, i) => `fragment F${i} on Query { ...F${i + 1} ...F${i + 1} }`,
    ).join('\n');
    const document = parse(
      `{ ...F0 }\n${fragments}\nfragment F${levels} on Query { usageKeys(level: PROJECT) }`,
    );
    const fragmentsWalked = countFragmentWalks(document);
    const operation = document.definitions[0] as OperationDefinitionNode;
    expect(rootFieldNames(operation, document)).toEqual(['usageKeys']);
    // Expanding every copy would walk 2^25 - 1 fragments.
    expect(fragmentsWalked()).toBe(levels + 1);
  });

  it('ignores a spread of a fragment the document does not define (validation reports it)', () => {
    expect(rootFieldsOf('{ ...Missing usageKeys(level: USER) }')).toEqual(['usageKeys']);
  });
});
