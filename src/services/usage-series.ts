import { addInto, type Breakdown, type Figures, zeroBreakdown, zeroFigures } from '../domain/figures';
import type { Level } from '../domain/levels';
import { machineKey } from '../domain/machine-key';
import {
  bucketsOverlapping,
  ceilHour,
  floorHour,
  type Granularity,
  HOUR_MS,
  monthsOverlapping,
} from '../domain/time';
import type { CpuName } from '../domain/metrics';
import { usageBucketId, usageBucketIdPrefix, usageSeriesId } from './ids';
import { presented } from './precision';
import { resourcesView, type ResourceFiguresView } from './resource-figures';
import { filesToRead, type FilesToRead, planReads, type ReadPiece } from './read-plan';
import { addStoredFigures, loadEach, loadStoredFiles } from './stored-figures';
import type { LedgerMonth, UsageReader } from './usage-reader';

export type BucketStatus = 'OK' | 'PARTIAL' | 'FAILED' | 'MISSING';

/** A validated range: epoch ms, `from` < `to`, within the granularity's limit. */
export interface SeriesRange {
  granularity: Granularity;
  from: number;
  to: number;
}

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

export interface UsageSeriesView {
  id: string;
  level: Level;
  key: string;
  granularity: Granularity;
  from: number;
  to: number;
  buckets: UsageBucketView[];
  total: UsageFiguresView;
  resourcesTotal: ResourceFiguresView;
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

interface PlannedBucket {
  start: number;
  end: number;
  countedFrom: number;
  countedTo: number;
  pieces: ReadPiece[];
}

/** What to read for a range, independent of level and key, so many keys share one plan. */
interface SeriesPlan extends SeriesRange {
  buckets: PlannedBucket[];
  ledgerMonths: string[];
  files: FilesToRead;
}

/**
 * A bucket counts the hours that overlap [from, to): `from` floored and `to` ceiled to whole
 * hours, then clipped to the bucket. The buckets' counted hours thus partition the series', and
 * the buckets' usage sums to `total`.
 */
function planSeries(range: SeriesRange): SeriesPlan {
  const countedFrom = floorHour(range.from);
  const countedTo = ceilHour(range.to);
  const buckets = bucketsOverlapping(range.granularity, range.from, range.to).map(([start, end]) => {
    const bucketFrom = Math.max(start, countedFrom);
    const bucketTo = Math.min(end, countedTo);
    return {
      start,
      end,
      countedFrom: bucketFrom,
      countedTo: bucketTo,
      pieces: planReads(bucketFrom, bucketTo),
    };
  });
  return {
    ...range,
    buckets,
    ledgerMonths: monthsOverlapping(countedFrom, countedTo),
    files: filesToRead(buckets.flatMap((bucket) => bucket.pieces)),
  };
}

/** What a caller will read of the series; leaving out what it will not saves most of the work. */
export interface SeriesDetail {
  /**
   * Each bucket's `byMachine`. When false it is left empty and only the `all` figures are summed:
   * for a year of hours that halves the work (the GraphQL layer passes false when no selection
   * asks for `buckets { byMachine }`).
   */
  byMachine: boolean;
}

const FULL_DETAIL: SeriesDetail = { byMachine: true };

export function readUsageSeries(
  reader: UsageReader,
  level: Level,
  key: string,
  range: SeriesRange,
  detail: SeriesDetail = FULL_DETAIL,
): Promise<UsageSeriesView> {
  return readPlannedSeries(reader, planSeries(range), level, key, detail);
}

/** One series per key, in the order given. */
export function readUsageSeriesMany(
  reader: UsageReader,
  level: Level,
  keys: readonly string[],
  range: SeriesRange,
  detail: SeriesDetail = FULL_DETAIL,
): Promise<UsageSeriesView[]> {
  const plan = planSeries(range);
  return Promise.all(keys.map((key) => readPlannedSeries(reader, plan, level, key, detail)));
}

async function readPlannedSeries(
  reader: UsageReader,
  plan: SeriesPlan,
  level: Level,
  askedKey: string,
  detail: SeriesDetail,
): Promise<UsageSeriesView> {
  const key = level === 'MACHINE' ? await machineTypeNamed(reader, askedKey) : askedKey;
  // Every load is issued before the first await, so the loaders batch all concurrent series together.
  const [keyIndex, ledger, stored, machineNames] = await Promise.all([
    reader.keys(level),
    loadEach(plan.ledgerMonths, (month) => reader.ledgerMonth(month)),
    loadStoredFiles(reader, level, key, plan.files),
    detail.byMachine ? machineNamesByKey(reader) : new Map<string, string>(),
  ]);
  const idPrefix = usageBucketIdPrefix(level, key, plan.granularity);
  // A key the store has never held is not known to have had "no usage": its buckets are MISSING.
  const known = keyIndex.known.has(key);
  const total = zeroFigures();
  const buckets = plan.buckets.map(({ start, end, countedFrom, countedTo, pieces }): UsageBucketView => {
    const id = usageBucketId(idPrefix, start, end, countedFrom, countedTo);
    const { okHours, failedHours } = known
      ? countLedgerHours(pieces, ledger)
      : { okHours: 0, failedHours: 0 };
    const status = statusOf((countedTo - countedFrom) / HOUR_MS, okHours, failedHours);
    const bounds = { id, start, end, countedFrom, countedTo, status, failedHours };
    if (okHours === 0) return { ...bounds, usage: null, resources: null, byMachine: [] };
    const sum = zeroBreakdown();
    for (const piece of pieces) addStoredFigures(sum, piece, stored, detail.byMachine);
    addInto(total, sum.all);
    return {
      ...bounds,
      usage: figuresView(sum.all),
      resources: resourcesView(sum.all),
      byMachine: detail.byMachine ? byMachineView(sum, machineNames) : [],
    };
  });
  return {
    id: usageSeriesId(level, key, plan.granularity, plan.from, plan.to),
    level,
    key,
    granularity: plan.granularity,
    from: plan.from,
    to: plan.to,
    buckets,
    total: figuresView(total),
    resourcesTotal: resourcesView(total),
  };
}

/**
 * The machine type a MACHINE key names: itself when stored, else the one stored type whose machine
 * key (`byMachine.machineKey`, e.g. `ARTEMIS_MATLAB`) it is, so either name reads the same series.
 */
async function machineTypeNamed(reader: UsageReader, key: string): Promise<string> {
  const machines = await reader.keys('MACHINE');
  if (machines.known.has(key)) return key;
  const named = machines.sorted.filter((name) => machineKey(name) === key);
  return named.length === 1 ? named[0]! : key;
}

function statusOf(hours: number, okHours: number, failedHours: number): BucketStatus {
  if (okHours === hours) return 'OK';
  if (okHours > 0) return 'PARTIAL';
  return failedHours > 0 ? 'FAILED' : 'MISSING';
}

/** Whole months and years use the ledger month's counts; days and hours look each hour up. */
function countLedgerHours(pieces: readonly ReadPiece[], ledger: Map<string, LedgerMonth>) {
  let okHours = 0;
  let failedHours = 0;
  const countMonth = (month: LedgerMonth | undefined) => {
    okHours += month?.okHours ?? 0;
    failedHours += month?.failedHours ?? 0;
  };
  for (const piece of pieces) {
    if (piece.kind === 'year') {
      for (const month of monthsOverlapping(piece.start, piece.end)) countMonth(ledger.get(month));
    } else if (piece.kind === 'month') {
      countMonth(ledger.get(piece.period));
    } else {
      const month = ledger.get(piece.period.slice(0, 7));
      for (let hour = piece.start; hour < piece.end; hour += HOUR_MS) {
        const record = month?.hours.get(hour);
        if (record?.status === 'ok') okHours++;
        else if (record?.status === 'failed') failedHours++;
      }
    }
  }
  return { okHours, failedHours };
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

/**
 * Day entries split by machine key (`ARTEMIS_MATLAB`), but the API names a machine type as the
 * MACHINE level keys it (`Artemis (Matlab)`), so that a name read here works as a key there. The
 * MACHINE keys are the names as labelled; when two names share a machine key, the first sorted
 * one is given (the figures are the sum of both, as stored).
 */
async function machineNamesByKey(reader: UsageReader): Promise<Map<string, string>> {
  const names = new Map<string, string>();
  for (const name of (await reader.keys('MACHINE')).sorted) {
    const key = machineKey(name);
    if (!names.has(key)) names.set(key, name);
  }
  return names;
}

function byMachineView(usage: Breakdown, names: ReadonlyMap<string, string>): MachineUsageView[] {
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
