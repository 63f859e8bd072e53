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
