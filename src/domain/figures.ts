import { METRIC_NAMES, type MetricName } from './metrics';

/** The figures every bucket carries (see the catalogue in metrics.ts), and the arithmetic on them. */
export type Figures = Record<MetricName, number>;

/** Every figure's name, from the catalogue: the seed's six first, then the resources. */
export const FIGURE_FIELDS: readonly MetricName[] = METRIC_NAMES;

/** `names`, checked to be identifiers, for code compiled from them. */
export function identifiers<T extends string>(names: readonly T[]): readonly T[] {
  for (const name of names) {
    if (!/^[a-zA-Z]\w*$/.test(name)) throw new Error(`figure name ${name} is not an identifier`);
  }
  return names;
}

/*
 * The functions below run for every figure set of an ingestion or a year's read: they are
 * compiled once from the catalogue's names as straight-line code (one object shape, no loop over
 * keys), which keeps them as fast as the hand-written six-field versions they replace. The names
 * are identifiers from the catalogue, never input.
 */

const fields = identifiers(FIGURE_FIELDS);

export const zeroFigures = new Function(
  `return { ${fields.map((field) => `${field}: 0`).join(', ')} };`,
) as () => Figures;

/** The same figures (compared as numbers: 0 and -0 alike, NaN never). */
export const sameFigures = new Function(
  'a',
  'b',
  `return ${fields.map((field) => `a.${field} === b.${field}`).join(' && ')};`,
) as (a: Figures, b: Figures) => boolean;

/** Sets every figure of `a` to 0 in place: a scratch sum reused bucket after bucket. */
export const clearFigures = new Function(
  'a',
  `${fields.map((field) => `a.${field} = 0;`).join(' ')} return a;`,
) as (a: Figures) => Figures;

/** Adds `b` into `a` in place and returns `a`: callers sum thousands of buckets, so no copies. */
export const addInto = new Function(
  'a',
  'b',
  `${fields.map((field) => `a.${field} += b.${field};`).join(' ')} return a;`,
) as (a: Figures, b: Figures) => Figures;

export function sumFigures(all: Iterable<Figures>): Figures {
  const total = zeroFigures();
  for (const f of all) addInto(total, f);
  return total;
}

/** Figures with a machine-type breakdown: one hour, one day's totals, one month's. */
export interface Breakdown {
  all: Figures;
  /** Keyed by machine key (see `machineKey`). */
  byMachine: Record<string, Figures>;
}

export function zeroBreakdown(): Breakdown {
  return { all: zeroFigures(), byMachine: {} };
}

export function addBreakdownInto(a: Breakdown, b: Breakdown): Breakdown {
  addInto(a.all, b.all);
  for (const [machine, figures] of Object.entries(b.byMachine)) {
    addInto((a.byMachine[machine] ??= zeroFigures()), figures);
  }
  return a;
}
