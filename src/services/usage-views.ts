import type { Breakdown, Figures } from '../domain/figures';
import type { CpuName } from '../domain/metrics';
import { presented } from './precision';
import type { ResourceFiguresView } from './resource-figures';

export type BucketStatus = 'OK' | 'PARTIAL' | 'FAILED' | 'MISSING';

/** The seed's figures: CPU time and its energy and carbon. */
export interface UsageFiguresView extends Pick<Figures, CpuName> {
  totalKwh: number;
  totalGco2eq: number;
}

export interface MachineUsageView {
  /** The machine type as the MACHINE level keys it, e.g. `Artemis (Matlab)`. */
  machineName: string;
  /** The per-machine key of the stored day entry, e.g. `ARTEMIS_MATLAB`. */
  machineKey: string;
  usage: UsageFiguresView;
}

export interface UsageBucketView {
  id: string;
  start: number;
  end: number;
  /** The bucket's hours that overlap the series' [from, to): the hours its figures and status count. */
  countedFrom: number;
  countedTo: number;
  status: BucketStatus;
  failedHours: number;
  usage: UsageFiguresView | null;
  /** Null exactly when `usage` is. */
  resources: ResourceFiguresView | null;
  byMachine: MachineUsageView[];
}

/** The series as parallel arrays, one entry per bucket: far cheaper to execute than 8,760 objects. */
export interface UsageColumnsView {
  start: number[];
  end: number[];
  status: BucketStatus[];
  failedHours: number[];
  busyCpuSeconds: Array<number | null>;
  idleCpuSeconds: Array<number | null>;
  busyKwh: Array<number | null>;
  idleKwh: Array<number | null>;
  busyGco2eq: Array<number | null>;
  idleGco2eq: Array<number | null>;
  totalKwh: Array<number | null>;
  totalGco2eq: Array<number | null>;
}

/**
 * The figures as answered, rounded to the stated precision (services/precision.ts); sums are taken
 * before rounding. Spelt out rather than spread: a literal of fixed shape is several times faster,
 * per bucket.
 */
export function figuresView(figures: Figures): UsageFiguresView {
  return {
    busyCpuSeconds: presented(figures.busyCpuSeconds),
    idleCpuSeconds: presented(figures.idleCpuSeconds),
    busyKwh: presented(figures.busyKwh),
    idleKwh: presented(figures.idleKwh),
    busyGco2eq: presented(figures.busyGco2eq),
    idleGco2eq: presented(figures.idleGco2eq),
    totalKwh: presented(figures.busyKwh + figures.idleKwh),
    totalGco2eq: presented(figures.busyGco2eq + figures.idleGco2eq),
  };
}

export function byMachineView(usage: Breakdown, names: ReadonlyMap<string, string>): MachineUsageView[] {
  return Object.keys(usage.byMachine)
    .map((key) => ({
      machineName: names.get(key) ?? key,
      machineKey: key,
      usage: figuresView(usage.byMachine[key]),
    }))
    .sort((a, b) => (a.machineName < b.machineName ? -1 : a.machineName > b.machineName ? 1 : 0));
}

export function toColumns(buckets: readonly UsageBucketView[]): UsageColumnsView {
  const figure = (pick: (usage: UsageFiguresView) => number) =>
    buckets.map((bucket) => (bucket.usage ? pick(bucket.usage) : null));
  return {
    start: buckets.map((bucket) => bucket.start),
    end: buckets.map((bucket) => bucket.end),
    status: buckets.map((bucket) => bucket.status),
    failedHours: buckets.map((bucket) => bucket.failedHours),
    busyCpuSeconds: figure((usage) => usage.busyCpuSeconds),
    idleCpuSeconds: figure((usage) => usage.idleCpuSeconds),
    busyKwh: figure((usage) => usage.busyKwh),
    idleKwh: figure((usage) => usage.idleKwh),
    busyGco2eq: figure((usage) => usage.busyGco2eq),
    idleGco2eq: figure((usage) => usage.idleGco2eq),
    totalKwh: figure((usage) => usage.totalKwh),
    totalGco2eq: figure((usage) => usage.totalGco2eq),
  };
}

/** Where each bucket of a series goes once summed: bucket objects, or columns. */
export interface BucketSink {
  /** The next bucket: its sum over its ok hours, or null when none is ok. */
  add(
    bucket: { start: number; end: number },
    status: BucketStatus,
    failedHours: number,
    sum: Breakdown | null,
  ): void;
}

/**
 * Columns summed straight from the buckets' figures, with no bucket objects: the raw sums wait in
 * typed arrays (no boxed double a figure) and a figure's column is rounded only when a query asks
 * for it, each the same numbers `toColumns` gives from the buckets.
 */
export class SummedColumns implements UsageColumnsView, BucketSink {
  readonly start: number[] = [];
  readonly end: number[] = [];
  readonly status: BucketStatus[] = [];
  readonly failedHours: number[] = [];
  private readonly summed: Uint8Array;
  private readonly raw: Record<CpuName, Float64Array>;

  constructor(count: number) {
    this.summed = new Uint8Array(count);
    this.raw = {
      busyCpuSeconds: new Float64Array(count),
      idleCpuSeconds: new Float64Array(count),
      busyKwh: new Float64Array(count),
      idleKwh: new Float64Array(count),
      busyGco2eq: new Float64Array(count),
      idleGco2eq: new Float64Array(count),
    };
  }

  add(
    bucket: { start: number; end: number },
    status: BucketStatus,
    failedHours: number,
    sum: Breakdown | null,
  ): void {
    const i = this.start.length;
    this.start.push(bucket.start);
    this.end.push(bucket.end);
    this.status.push(status);
    this.failedHours.push(failedHours);
    if (sum === null) return;
    this.summed[i] = 1;
    const figures = sum.all;
    const raw = this.raw;
    raw.busyCpuSeconds[i] = figures.busyCpuSeconds;
    raw.idleCpuSeconds[i] = figures.idleCpuSeconds;
    raw.busyKwh[i] = figures.busyKwh;
    raw.idleKwh[i] = figures.idleKwh;
    raw.busyGco2eq[i] = figures.busyGco2eq;
    raw.idleGco2eq[i] = figures.idleGco2eq;
  }

  get busyCpuSeconds() {
    return this.column(this.raw.busyCpuSeconds);
  }
  get idleCpuSeconds() {
    return this.column(this.raw.idleCpuSeconds);
  }
  get busyKwh() {
    return this.column(this.raw.busyKwh);
  }
  get idleKwh() {
    return this.column(this.raw.idleKwh);
  }
  get busyGco2eq() {
    return this.column(this.raw.busyGco2eq);
  }
  get idleGco2eq() {
    return this.column(this.raw.idleGco2eq);
  }
  get totalKwh() {
    return this.column(this.raw.busyKwh, this.raw.idleKwh);
  }
  get totalGco2eq() {
    return this.column(this.raw.busyGco2eq, this.raw.idleGco2eq);
  }

  /** A figure's column as answered; with `plus`, the presented sum of two figures (as figuresView). */
  private column(figure: Float64Array, plus?: Float64Array): Array<number | null> {
    const column = new Array<number | null>(this.start.length);
    for (let i = 0; i < column.length; i++) {
      column[i] = this.summed[i] === 0 ? null : presented(plus ? figure[i] + plus[i] : figure[i]);
    }
    return column;
  }
}
