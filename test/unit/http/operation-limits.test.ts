import { getIntrospectionQuery, getOperationAST, type GraphQLSchema, parse } from 'graphql';

import {
  DEFAULT_OPERATION_LIMITS,
  enforceOperationLimits,
  measureOperation,
  type OperationMeasure,
} from '../../../src/http/operation-limits';
import { testAppSchema } from '../../support/http';
import { countFragmentWalks } from '../../support/fragment-walks';

let schema: GraphQLSchema;
beforeAll(async () => {
  schema = await testAppSchema();
});

function measure(source: string, variables?: Record<string, unknown>): OperationMeasure {
  const document = parse(source);
  return measureOperation(schema, document, getOperationAST(document)!, variables);
}

const YEAR = 'from: "2024-01-01T00:00:00Z", to: "2025-01-01T00:00:00Z"';
/** 2024 is a leap year. */
const HOURS_2024 = 366 * 24;

describe('measureOperation', () => {
  it('counts the values an answer can hold, at their expected lengths', () => {
    // One scalar, and a list of keys of unknown length (10 expected).
    expect(measure('{ __typename usageKeys(level: PROJECT) }')).toEqual({
      depth: 1,
      rootFields: 2,
      aliases: 0,
      cost: 1 + 10,
    });
    // 10 machine types expected, each holding 2 leaves.
    expect(measure('{ machineMetrics { machineName instanceHours } }').cost).toBe(20);
  });

  it('weighs a series by its buckets, selected or not, and its bucket lists by their length', () => {
    const series = (granularity: string, selection: string) =>
      measure(
        `{ usageSeries(level: PROJECT, key: "P", ${YEAR}, granularity: ${granularity}) { ${selection} } }`,
      );
    expect(series('HOUR', 'id').cost).toBe(HOURS_2024 + 1);
    expect(series('DAY', 'id').cost).toBe(366 + 1);
    expect(series('MONTH', 'id').cost).toBe(12 + 1);
    expect(series('HOUR', 'buckets { start usage { busyKwh totalKwh } }').cost).toBe(
      HOURS_2024 + HOURS_2024 * 3,
    );
    expect(series('HOUR', 'columns { start totalKwh }').cost).toBe(HOURS_2024 + HOURS_2024 * 2);
    // Ten machine types expected per bucket.
    expect(series('DAY', 'buckets { byMachine { machineName } }').cost).toBe(366 + 366 * 10);
  });

  it('counts the buckets that overlap the range, a part bucket included', () => {
    const cost = measure(
      '{ usageSeries(level: PROJECT, key: "P", from: "2025-01-01T10:30:00Z", to: "2025-01-01T12:15:00Z", granularity: HOUR) { id } }',
    ).cost;
    expect(cost).toBe(3 + 1);
  });

  it('weighs usageSeriesMany by keys × buckets, from literals or variables with their defaults', () => {
    const literal = measure(
      `{ usageSeriesMany(level: USER, keys: ["a", "b", "c"], ${YEAR}, granularity: DAY) { total { totalKwh } } }`,
    );
    expect(literal.cost).toBe(3 * 366 + 3 * 1);

    const source = `query Many($keys: [String!]!, $from: DateTime!, $to: DateTime!, $g: Granularity! = DAY) {
      usageSeriesMany(level: USER, keys: $keys, from: $from, to: $to, granularity: $g) { key }
    }`;
    const range = { from: '2024-01-01', to: '2025-01-01' };
    expect(measure(source, { keys: ['a', 'b'], ...range }).cost).toBe(2 * 366 + 2);
    expect(measure(source, { keys: ['a', 'b'], ...range, g: 'HOUR' }).cost).toBe(2 * HOURS_2024 + 2);
    // A lone string is coerced to a list of one.
    expect(measure(source, { keys: 'a', ...range }).cost).toBe(366 + 1);
  });

  it('counts nothing to read where the resolver refuses the arguments before reading', () => {
    const series = (args: string) =>
      measure(`{ usageSeries(level: PROJECT, key: "P", ${args}) { buckets { start } } }`).cost;
    expect(series('from: "2025-01-02", to: "2025-01-01", granularity: DAY')).toBe(1);
    expect(series('from: "2020-01-01", to: "2025-01-01", granularity: HOUR')).toBe(1);
    expect(series('from: "yesterday", to: "2025-01-01", granularity: DAY')).toBe(1);
    const tooManyKeys = Array.from({ length: 201 }, (_, i) => `"k${i}"`).join(' ');
    expect(
      measure(`{ usageSeriesMany(level: USER, keys: [${tooManyKeys}], ${YEAR}, granularity: HOUR) { key } }`)
        .cost,
    ).toBe(1);
  });

  it('measures depth, root fields and aliases through inline fragments and fragment spreads', () => {
    const result = measure(`
      query { ...Root ... on Query { b: usageKeys(level: USER) } }
      fragment Root on Query {
        a: usageKeys(level: PROJECT)
        usageSeries(level: PROJECT, key: "P", ${YEAR}, granularity: MONTH) { buckets { usage { totalKwh } } }
      }`);
    expect(result).toMatchObject({ depth: 4, rootFields: 3, aliases: 2 });
  });

  it('measures a fragment bomb without expanding it, counting what the expansion would hold', () => {
    const fragments = Array.from(
      { length: 40 },
      (_, i) => `fragment F${i} on UsageSeries { a${i}: key ...F${i + 1} ...F${i + 1} }`,
    ).join('\n');
    const document = parse(
      `{ usageSeries(level: PROJECT, key: "P", ${YEAR}, granularity: DAY) { ...F0 } }
       ${fragments} fragment F40 on UsageSeries { id }`,
    );
    const fragmentsWalked = countFragmentWalks(document);
    const result = measureOperation(schema, document, getOperationAST(document)!, undefined);
    expect(result.aliases).toBe(2 ** 40 - 1);
    expect(result.cost).toBeGreaterThan(2 ** 40);
    // Each of the 41 fragments once (expanding the copies would walk 2^41 - 1).
    expect(fragmentsWalked()).toBe(41);
  });

  it('lets the largest series the contract allows through the default limits, every field selected', () => {
    const figures =
      'busyCpuSeconds idleCpuSeconds busyKwh idleKwh busyGco2eq idleGco2eq totalKwh totalGco2eq';
    const everything = measure(`{
      usageSeries(level: PROJECT, key: "P", ${YEAR}, granularity: HOUR) {
        id level key granularity from to
        buckets {
          id start end countedFrom countedTo status failedHours
          usage { ${figures} }
          byMachine { machineName usage { ${figures} } }
        }
        columns { start end status failedHours ${figures} }
        total { ${figures} }
      }
    }`);
    expect(everything.cost).toBeGreaterThan(HOURS_2024 * 100);
    expect(() => enforceOperationLimits(everything, DEFAULT_OPERATION_LIMITS)).not.toThrow();
  });

  it('lets the standard introspection query through the default limits', () => {
    const result = measure(getIntrospectionQuery({ descriptions: true, inputValueDeprecation: true }));
    expect(() => enforceOperationLimits(result, DEFAULT_OPERATION_LIMITS)).not.toThrow();
  });
});

describe('enforceOperationLimits', () => {
  const within: OperationMeasure = { depth: 15, rootFields: 100, aliases: 100, cost: 1_100_000 };

  it('lets an operation at every limit through', () => {
    expect(() => enforceOperationLimits(within, DEFAULT_OPERATION_LIMITS)).not.toThrow();
  });

  it.each([
    [{ depth: 16 }, 'QUERY_TOO_DEEP', 'depth', 'nests 16 fields deep; at most 15'],
    [{ rootFields: 101 }, 'QUERY_TOO_COMPLEX', 'rootFields', '101 root fields; at most 100'],
    [{ aliases: 101 }, 'QUERY_TOO_COMPLEX', 'aliases', '101 aliased fields; at most 100'],
    [
      { cost: 1_100_001 },
      'QUERY_TOO_COMPLEX',
      'cost',
      'estimated cost is 1,100,001, over the limit of 1,100,000',
    ],
    [{ cost: Infinity }, 'QUERY_TOO_COMPLEX', 'cost', 'beyond counting'],
  ])('refuses %p with %s', (over, code, name, message) => {
    let error: (Error & { extensions?: Record<string, unknown> }) | undefined;
    try {
      enforceOperationLimits({ ...within, ...over }, DEFAULT_OPERATION_LIMITS);
    } catch (err) {
      error = err as Error;
    }
    expect(error?.message).toContain(message);
    expect(error?.extensions).toMatchObject({ code, limit: { name }, http: { status: 400 } });
  });
});
