/**
 * Fragment bombs: documents whose fragments spread each other so that expanding every spread
 * multiplies the work at each level, while the document grows by a line. Each shape takes a number
 * of levels and gives one query over `usageSeries`; a walk that visits each fragment once costs a
 * pass over the document, one that expands spreads costs 2^levels (or Fibonacci(levels)).
 */
const SERIES =
  'usageSeries(level: PROJECT, key: "IDAaaS", from: "2025-09-21", to: "2025-09-22", granularity: DAY)';

function chain(
  levels: number,
  type: string,
  body: (next: string, i: number) => string,
  leaf: string,
): string {
  const fragments = Array.from(
    { length: levels },
    (_, i) => `fragment F${i} on ${type} { ${body(`F${i + 1}`, i)} }`,
  );
  return `${fragments.join('\n')}\nfragment F${levels} on ${type} { ${leaf} }`;
}

export const FRAGMENT_BOMBS: ReadonlyArray<{ shape: string; document(levels: number): string }> = [
  {
    // F0 spreads F1 twice, F1 spreads F2 twice, …
    shape: 'doubling spreads',
    document: (levels) =>
      `{ ${SERIES} { ...F0 } }\n${chain(levels, 'UsageSeries', (next) => `...${next} ...${next}`, 'id')}`,
  },
  {
    // Each fragment spreads the next two: Fibonacci growth, with the path's fields at the bottom.
    shape: 'ladder',
    document: (levels) =>
      `{ ${SERIES} { ...F0 } }\n${chain(
        levels,
        'UsageSeries',
        (next, i) => (i + 2 <= levels ? `...${next} ...F${i + 2}` : `...${next}`),
        'buckets { byMachine { machineName } }',
      )}`,
  },
  {
    // The doubling through inline fragments, which a walk must enter too.
    shape: 'inline fragments',
    document: (levels) =>
      `{ ${SERIES} { ...F0 } }\n${chain(
        levels,
        'UsageSeries',
        (next) => `... on UsageSeries { ...${next} } ... { ...${next} }`,
        'total { busyKwh }',
      )}`,
  },
  {
    // Below a field the path goes through: the bomb sits in the buckets' selection.
    shape: 'under buckets',
    document: (levels) =>
      `{ ${SERIES} { buckets { ...F0 } } }\n${chain(levels, 'UsageBucket', (next) => `...${next} ...${next}`, 'start')}`,
  },
  {
    // Every fragment spreads all those after it: quadratic in spreads, exponential expanded.
    shape: 'each spreads every later one',
    document: (levels) =>
      `{ ${SERIES} { ...F0 } }\n${chain(
        levels,
        'UsageSeries',
        (_next, i) => Array.from({ length: levels - i }, (_, j) => `...F${i + 1 + j}`).join(' '),
        'key',
      )}`,
  },
  {
    // At the root: spreads of Query fragments, each selecting the series.
    shape: 'at the root',
    document: (levels) =>
      `{ ...F0 }\n${chain(levels, 'Query', (next) => `...${next} ...${next}`, `${SERIES} { id }`)}`,
  },
];
