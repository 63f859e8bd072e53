import {
  addInto,
  type Breakdown,
  clearFigures,
  type Figures,
  zeroBreakdown,
  zeroFigures,
} from '../domain/figures';
import type { Level } from '../domain/levels';
import { machineKey } from '../domain/machine-key';
import {
  bucketStart,
  ceilHour,
  floorHour,
  type Granularity,
  HOUR_MS,
  monthsOverlapping,
  nextBucketStart,
} from '../domain/time';
import { usageBucketId, usageBucketIdPrefix, usageSeriesId } from './ids';
import { resourcesView, type ResourceFiguresView } from './resource-figures';
import { filesToRead, type FilesToRead, planReads, type ReadPiece } from './read-plan';
import { addStoredFigures, loadEach, loadStoredFiles, type StoredFiles } from './stored-figures';
import type { LedgerStatuses, UsageReader } from './usage-reader';
import {
  type BucketSink,
  type BucketStatus,
  byMachineView,
  figuresView,
  SummedColumns,
  type UsageBucketView,
  type UsageColumnsView,
  type UsageFiguresView,
} from './usage-views';

export {
  type BucketStatus,
  figuresView,
  type MachineUsageView,
  toColumns,
  type UsageBucketView,
  type UsageColumnsView,
  type UsageFiguresView,
} from './usage-views';

/** A validated range: epoch ms, `from` < `to`, within the granularity's limit. */
export interface SeriesRange {
  granularity: Granularity;
  from: number;
  to: number;
}

export interface UsageSeriesView {
  id: string;
  level: Level;
  key: string;
  granularity: Granularity;
  from: number;
  to: number;
  buckets: UsageBucketView[];
  /** The columns summed without bucket objects, when only they were asked for (see SeriesDetail). */
  columns?: UsageColumnsView;
  total: UsageFiguresView;
  resourcesTotal: ResourceFiguresView;
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
  const buckets: PlannedBucket[] = [];
  const pieces: ReadPiece[] = [];
  // A loop, not bucketsOverlapping's pairs mapped: a year of hours is 8,760 buckets a request.
  for (let start = bucketStart(range.granularity, range.from); start < range.to;) {
    const end = nextBucketStart(range.granularity, start);
    const bucketFrom = Math.max(start, countedFrom);
    const bucketTo = Math.min(end, countedTo);
    const bucket = {
      start,
      end,
      countedFrom: bucketFrom,
      countedTo: bucketTo,
      pieces: planReads(bucketFrom, bucketTo),
    };
    buckets.push(bucket);
    pieces.push(...bucket.pieces);
    start = end;
  }
  return {
    ...range,
    buckets,
    ledgerMonths: monthsOverlapping(countedFrom, countedTo),
    files: filesToRead(pieces),
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
  /** Each bucket's `resources`; when false it is null in every bucket. */
  resources: boolean;
  /** The buckets as objects; when false `buckets` is empty. */
  buckets: boolean;
  /**
   * The buckets as `columns`. Asked without `buckets`, they are summed straight into the series'
   * `columns` with no bucket objects at all (a year of hours is 8,760 of them).
   */
  columns: boolean;
}

const FULL_DETAIL: SeriesDetail = { byMachine: true, resources: true, buckets: true, columns: true };

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
    loadEach(plan.ledgerMonths, (month) => reader.ledgerStatuses(month)),
    loadStoredFiles(reader, level, key, plan.files, detail.byMachine),
    detail.byMachine ? machineNamesByKey(reader) : new Map<string, string>(),
  ]);
  const sink = detail.buckets
    ? new BucketObjects(usageBucketIdPrefix(level, key, plan.granularity), detail, machineNames)
    : detail.columns
      ? new SummedColumns(plan.buckets.length)
      : undefined;
  // A key the store has never held is not known to have had "no usage": its buckets are MISSING.
  const total = sumBuckets(plan, keyIndex.known.has(key), ledger, stored, detail.byMachine, sink);
  return {
    id: usageSeriesId(level, key, plan.granularity, plan.from, plan.to),
    level,
    key,
    granularity: plan.granularity,
    from: plan.from,
    to: plan.to,
    buckets: sink instanceof BucketObjects ? sink.buckets : [],
    ...(sink instanceof SummedColumns ? { columns: sink } : {}),
    total: figuresView(total),
    resourcesTotal: resourcesView(total),
  };
}

/**
 * Sums every bucket's ok hours, hands each bucket to `sink`, and returns the series' total (the
 * buckets' sums added in order). Without machines one scratch sum serves every bucket: a sink
 * copies what it keeps.
 */
function sumBuckets(
  plan: SeriesPlan,
  known: boolean,
  ledger: Map<string, LedgerStatuses>,
  stored: StoredFiles,
  byMachine: boolean,
  sink: BucketSink | undefined,
): Figures {
  const total = zeroFigures();
  const scratch = byMachine ? undefined : zeroBreakdown();
  const countLedgerHours = ledgerCounter(ledger);
  for (const bucket of plan.buckets) {
    const { okHours, failedHours } = known ? countLedgerHours(bucket.pieces) : NO_HOURS;
    const status = statusOf((bucket.countedTo - bucket.countedFrom) / HOUR_MS, okHours, failedHours);
    if (okHours === 0) {
      sink?.add(bucket, status, failedHours, null);
      continue;
    }
    const sum = scratch ? clearBreakdown(scratch) : zeroBreakdown();
    for (const piece of bucket.pieces) addStoredFigures(sum, piece, stored, byMachine);
    addInto(total, sum.all);
    sink?.add(bucket, status, failedHours, sum);
  }
  return total;
}

const NO_HOURS = { okHours: 0, failedHours: 0 };

/** The scratch sum of a series without machines (whose `byMachine` stays empty), zeroed. */
function clearBreakdown(scratch: Breakdown): Breakdown {
  clearFigures(scratch.all);
  return scratch;
}

/** The buckets as objects, each with what the detail asks of it. */
class BucketObjects implements BucketSink {
  readonly buckets: UsageBucketView[] = [];

  constructor(
    private readonly idPrefix: string,
    private readonly detail: SeriesDetail,
    private readonly machineNames: ReadonlyMap<string, string>,
  ) {}

  add(bucket: PlannedBucket, status: BucketStatus, failedHours: number, sum: Breakdown | null): void {
    const { start, end, countedFrom, countedTo } = bucket;
    const id = usageBucketId(this.idPrefix, start, end, countedFrom, countedTo);
    const bounds = { id, start, end, countedFrom, countedTo, status, failedHours };
    this.buckets.push(
      sum === null
        ? { ...bounds, usage: null, resources: null, byMachine: [] }
        : {
            ...bounds,
            usage: figuresView(sum.all),
            resources: this.detail.resources ? resourcesView(sum.all) : null,
            byMachine: this.detail.byMachine ? byMachineView(sum, this.machineNames) : [],
          },
    );
  }
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

/**
 * Counts the ledger's ok and failed hours of a bucket's pieces: whole months and years from the
 * ledger month's counts, days and hours hour by hour. The counts object is reused bucket after
 * bucket, and the month of the last day looked up is remembered: hourly buckets come 24 a day,
 * and slicing and hashing its name for each was a tenth of a year of hours' own work.
 */
function ledgerCounter(ledger: ReadonlyMap<string, LedgerStatuses>) {
  const counts = { okHours: 0, failedHours: 0 };
  let lastDay: string | undefined;
  let lastMonth: LedgerStatuses | undefined;
  const addMonth = (month: LedgerStatuses | undefined) => {
    counts.okHours += month?.okHours ?? 0;
    counts.failedHours += month?.failedHours ?? 0;
  };
  return (pieces: readonly ReadPiece[]): Readonly<typeof counts> => {
    counts.okHours = 0;
    counts.failedHours = 0;
    for (const piece of pieces) {
      if (piece.kind === 'year') {
        for (const month of monthsOverlapping(piece.start, piece.end)) addMonth(ledger.get(month));
      } else if (piece.kind === 'month') {
        addMonth(ledger.get(piece.period));
      } else {
        if (piece.period !== lastDay)
          [lastDay, lastMonth] = [piece.period, ledger.get(piece.period.slice(0, 7))];
        for (let hour = piece.start; hour < piece.end; hour += HOUR_MS) {
          const status = lastMonth?.statusOf(hour);
          if (status === 'ok') counts.okHours++;
          else if (status === 'failed') counts.failedHours++;
        }
      }
    }
    return counts;
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
