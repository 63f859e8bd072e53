import {
  graphql,
  Kind,
  parse,
  type FieldNode,
  type FragmentDefinitionNode,
  type GraphQLResolveInfo,
  type OperationDefinitionNode,
} from 'graphql';
import { mayRead } from '../../../src/resolvers/selection';
import { createRequestContext } from '../../../src/app-schema';
import { systemClock } from '../../../src/domain/clock';
import { silentLogger } from '../../../src/log';
import { FRAGMENT_BOMBS } from '../../support/fragment-bombs';
import { countFragmentWalks } from '../../support/fragment-walks';
import { FIXTURE_DAY, testAppSchema, usageFixture } from '../../support/http';

/** The resolve info of the operation's first root field, as far as `mayRead` looks. */
function infoOf(source: string, countWalks?: (walks: () => number) => void): GraphQLResolveInfo {
  const document = parse(source);
  if (countWalks) countWalks(countFragmentWalks(document));
  const operation = document.definitions.find(
    (d): d is OperationDefinitionNode => d.kind === Kind.OPERATION_DEFINITION,
  )!;
  const fragments = Object.fromEntries(
    document.definitions
      .filter((d): d is FragmentDefinitionNode => d.kind === Kind.FRAGMENT_DEFINITION)
      .map((d) => [d.name.value, d]),
  );
  const fieldNodes = [operation.selectionSet.selections[0] as FieldNode];
  return { fieldNodes, fragments } as unknown as GraphQLResolveInfo;
}

describe('mayRead', () => {
  const path = ['buckets', 'byMachine'];

  it.each(FRAGMENT_BOMBS)('walks each fragment at most once a step in a bomb of $shape', ({ document }) => {
    const levels = 30;
    let walks = () => 0;
    const info = infoOf(document(levels), (counter) => (walks = counter));
    mayRead(info, path);
    // Expanding every spread would walk 2^30 fragments (Fibonacci(30) for the ladder).
    expect(walks()).toBeLessThanOrEqual(path.length * (levels + 1));
  });

  it('finds a field selected directly, under an alias, or through fragments', () => {
    expect(mayRead(infoOf('{ s { buckets { byMachine { machineName } } } }'), path)).toBe(true);
    expect(mayRead(infoOf('{ s { b: buckets { m: byMachine { machineName } } } }'), path)).toBe(true);
    expect(mayRead(infoOf('{ s { ... on S { buckets { ... on B { byMachine { x } } } } } }'), path)).toBe(
      true,
    );
    expect(
      mayRead(
        infoOf('{ s { ...F } } fragment F on S { buckets { ...G } } fragment G on B { byMachine { x } }'),
        path,
      ),
    ).toBe(true);
    // Directives are not evaluated: a field that might be read counts as read.
    expect(mayRead(infoOf('{ s { buckets { byMachine @skip(if: true) { x } } } }'), path)).toBe(true);
  });

  it('says no only when no selection reaches the field', () => {
    expect(mayRead(infoOf('{ s { buckets { start usage { busyKwh } } columns { start } } }'), path)).toBe(
      false,
    );
    expect(mayRead(infoOf('{ s { total { busyKwh } } }'), path)).toBe(false);
    expect(mayRead(infoOf('{ s { ...F } } fragment F on S { byMachine { x } }'), path)).toBe(false);
  });
});

describe('byMachine through the schema', () => {
  it('is filled when asked for through a fragment, and the figures agree without it', async () => {
    const { store } = usageFixture();
    const run = async (source: string) =>
      graphql({
        schema: await testAppSchema(),
        source,
        contextValue: createRequestContext({
          store,
          clock: systemClock,
          log: silentLogger,
          principal: { kind: 'anonymous' },
        }),
      });
    const range = `level: PROJECT, key: "IDAaaS", from: "${FIXTURE_DAY}T10:00:00Z", to: "${FIXTURE_DAY}T11:00:00Z", granularity: HOUR`;
    const withMachines = await run(
      `{ usageSeries(${range}) { ...S } } fragment S on UsageSeries { buckets { usage { busyKwh } byMachine { machineName usage { busyKwh } } } }`,
    );
    expect(withMachines.errors).toBeUndefined();
    expect(withMachines.data).toEqual({
      usageSeries: {
        buckets: [
          {
            usage: { busyKwh: 1.5 },
            byMachine: [{ machineName: 'ARTEMIS_MATLAB', usage: { busyKwh: 1.5 } }],
          },
        ],
      },
    });
    const without = await run(
      `{ usageSeries(${range}) { buckets { usage { busyKwh } } total { busyKwh } } }`,
    );
    expect(without.data).toEqual({
      usageSeries: { buckets: [{ usage: { busyKwh: 1.5 } }], total: { busyKwh: 1.5 } },
    });
  });
});
