/** The six figures every bucket carries, and the arithmetic on them. */

export interface Figures {
  busyCpuSeconds: number;
  idleCpuSeconds: number;
  busyKwh: number;
  idleKwh: number;
  busyGco2eq: number;
  idleGco2eq: number;
}

export const FIGURE_FIELDS = [
  'busyCpuSeconds',
  'idleCpuSeconds',
  'busyKwh',
  'idleKwh',
  'busyGco2eq',
  'idleGco2eq',
] as const satisfies ReadonlyArray<keyof Figures>;

export function zeroFigures(): Figures {
  return { busyCpuSeconds: 0, idleCpuSeconds: 0, busyKwh: 0, idleKwh: 0, busyGco2eq: 0, idleGco2eq: 0 };
}

/** The same six figures (compared as numbers: 0 and -0 alike, NaN never). */
export function sameFigures(a: Figures, b: Figures): boolean {
  return (
    a.busyCpuSeconds === b.busyCpuSeconds &&
    a.idleCpuSeconds === b.idleCpuSeconds &&
    a.busyKwh === b.busyKwh &&
    a.idleKwh === b.idleKwh &&
    a.busyGco2eq === b.busyGco2eq &&
    a.idleGco2eq === b.idleGco2eq
  );
}

/** Adds `b` into `a` in place and returns `a`: callers sum thousands of buckets, so no copies. */
export function addInto(a: Figures, b: Figures): Figures {
  a.busyCpuSeconds += b.busyCpuSeconds;
  a.idleCpuSeconds += b.idleCpuSeconds;
  a.busyKwh += b.busyKwh;
  a.idleKwh += b.idleKwh;
  a.busyGco2eq += b.busyGco2eq;
  a.idleGco2eq += b.idleGco2eq;
  return a;
}

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

/**
 * A breakdown as one typed array: the six figures of `all`, then six for each of `machines`, in
 * order. A fraction of the object form's memory, most of it outside the JS heap, for figures that
 * wait a while (a month of day totals for every key).
 */
export interface PackedBreakdown {
  machines: readonly string[];
  figures: Float64Array;
}

export function packBreakdown(breakdown: Breakdown): PackedBreakdown {
  const machines = Object.keys(breakdown.byMachine);
  const figures = new Float64Array(FIGURE_FIELDS.length * (1 + machines.length));
  [breakdown.all, ...machines.map((machine) => breakdown.byMachine[machine])].forEach((part, i) => {
    FIGURE_FIELDS.forEach((field, j) => (figures[i * FIGURE_FIELDS.length + j] = part[field]));
  });
  return { machines, figures };
}

export function unpackBreakdown({ machines, figures }: PackedBreakdown): Breakdown {
  const part = (i: number): Figures => {
    const at = i * FIGURE_FIELDS.length;
    return {
      busyCpuSeconds: figures[at],
      idleCpuSeconds: figures[at + 1],
      busyKwh: figures[at + 2],
      idleKwh: figures[at + 3],
      busyGco2eq: figures[at + 4],
      idleGco2eq: figures[at + 5],
    };
  };
  return {
    all: part(0),
    byMachine: Object.fromEntries(machines.map((machine, i) => [machine, part(i + 1)])),
  };
}
