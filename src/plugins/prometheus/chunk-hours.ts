import { UNKNOWN } from '../../domain/levels';
import { cpuSecondsProblem, figureProblem } from '../../domain/plausible';
import { HOUR_MS, isWholeHour } from '../../domain/time';
import type { RawInstanceHour } from '../../domain/usage';
import type { SourceHour } from '../../ingest/ports';
import { PrometheusError, type MatrixSeries } from './client';
import { hourOfPoint } from './promql';

/** Whole hours [from, to), epoch ms, asked of Prometheus in one set of range queries. */
export interface Chunk {
  from: number;
  to: number;
}

/** Every query's answer for one chunk: the CPU sides, and the resources of `resourceQueries`. */
export interface ChunkAnswers {
  idle: MatrixSeries[];
  busy: MatrixSeries[];
  cpus: MatrixSeries[];
  memory: MatrixSeries[];
  disk: MatrixSeries[];
  receive: MatrixSeries[];
  transmit: MatrixSeries[];
}

type Side = keyof ChunkAnswers;

/** How a side's value reads when Prometheus answered something that is no measurement. */
const SIDE_NAMES: Record<Side, string> = {
  idle: 'idle CPU seconds',
  busy: 'busy CPU seconds',
  cpus: 'CPU count',
  memory: 'memory bytes',
  disk: 'disk bytes',
  receive: 'received bytes',
  transmit: 'transmitted bytes',
};

/** How many bad values a failed hour's reason spells out. */
const BAD_VALUES_SHOWN = 3;
const SECONDS_PER_HOUR = 3600;

const iso = (ms: number): string => new Date(ms).toISOString();

/** A stable identity for a label set, whatever order the labels come in. */
function labelKey(labels: Record<string, string>): string {
  return JSON.stringify(
    Object.keys(labels)
      .sort()
      .map((name) => [name, labels[name]]),
  );
}

function describeSeries(labels: Record<string, string>): string {
  const pairs = Object.keys(labels)
    .sort()
    .map((name) => `${name}=${JSON.stringify(labels[name])}`);
  return `{${pairs.join(', ')}}`;
}

/** Prometheus writes sample values as text: "123.5", "NaN", "+Inf". */
function valueOf(text: string): number {
  return text.trim() === '' ? Number.NaN : Number(text);
}

/** A row of one series and hour while the answers are read: the CPU figures and the resources' raw readings. */
interface Reading {
  row: RawInstanceHour;
  cpus: number;
  memoryBytes: number;
  diskBytes: number;
}

/** Each point of every series of one side, checked: in the chunk, and a finite value ≥ 0. */
function* pointsOf(
  chunk: Chunk,
  side: Side,
  answer: readonly MatrixSeries[],
  bad: (hour: number, reason: string) => void,
): Generator<{ series: MatrixSeries; key: string; hour: number; value: number }> {
  for (const series of answer) {
    const key = labelKey(series.metric);
    for (const [seconds, text] of series.values) {
      const hour = hourOfPoint(seconds);
      if (!(hour >= chunk.from && hour < chunk.to && isWholeHour(hour))) {
        throw new PrometheusError(
          'bad-body',
          `Prometheus answered a point at ${seconds} s, outside the hours asked (${iso(chunk.from)} to ${iso(chunk.to)})`,
          false,
        );
      }
      const value = valueOf(text);
      // CPU seconds also have a most an hour can hold; the resources need only be measurements.
      const problem = side === 'idle' || side === 'busy' ? cpuSecondsProblem(value) : figureProblem(value);
      if (problem === undefined) yield { series, key, hour, value };
      else {
        const why = value > 0 && Number.isFinite(value) ? ` (${problem})` : '';
        bad(hour, `${SIDE_NAMES[side]} ${JSON.stringify(text)} for ${describeSeries(series.metric)}${why}`);
      }
    }
  }
}

/**
 * The readings of one chunk, by hour and series. A series has a row in each hour where either CPU
 * side has a point (the missing side counts 0): an instance-hour is one with CPU samples. The
 * resources join the row of the series with the same labels; where a row has none, they count 0.
 */
function readingsOf(chunk: Chunk, answers: ChunkAnswers, bad: (hour: number, reason: string) => void) {
  const byHour = new Map<number, Map<string, Reading>>();
  for (const side of ['idle', 'busy'] as const) {
    for (const { series, key, hour, value } of pointsOf(chunk, side, answers[side], bad)) {
      let readings = byHour.get(hour);
      if (readings === undefined) byHour.set(hour, (readings = new Map()));
      let reading = readings.get(key);
      if (reading === undefined) {
        const row: RawInstanceHour = {
          hour,
          // Every scraped series has an instance; one stripped of it by relabelling still counts.
          instance: series.metric.instance ?? UNKNOWN,
          labels: series.metric,
          busyCpuSeconds: 0,
          idleCpuSeconds: 0,
        };
        readings.set(key, (reading = { row, cpus: 0, memoryBytes: 0, diskBytes: 0 }));
      }
      if (side === 'idle') reading.row.idleCpuSeconds += value;
      else reading.row.busyCpuSeconds += value;
    }
  }
  const resources = [
    ['cpus', (reading: Reading, value: number) => (reading.cpus = value)],
    ['memory', (reading: Reading, value: number) => (reading.memoryBytes = value)],
    ['disk', (reading: Reading, value: number) => (reading.diskBytes = value)],
    ['receive', (reading: Reading, value: number) => (reading.row.networkReceiveBytes = value)],
    ['transmit', (reading: Reading, value: number) => (reading.row.networkTransmitBytes = value)],
  ] as const;
  for (const [side, set] of resources) {
    for (const { key, hour, value } of pointsOf(chunk, side, answers[side], bad)) {
      const reading = byHour.get(hour)?.get(key);
      if (reading !== undefined) set(reading, value);
    }
  }
  return byHour;
}

/**
 * The figures of a reading (contract section 8): the time up is the CPU seconds over the CPUs (at
 * most the hour; 0 when the CPU count is unknown), and the byte-hours are the mean in-use bytes
 * over that time.
 */
function rowOf({ row, cpus, memoryBytes, diskBytes }: Reading): RawInstanceHour {
  const cpuSeconds = row.busyCpuSeconds + row.idleCpuSeconds;
  const upHours = cpus > 0 ? Math.min(1, cpuSeconds / (cpus * SECONDS_PER_HOUR)) : 0;
  return {
    ...row,
    upHours,
    memoryByteHours: memoryBytes * upHours,
    diskByteHours: diskBytes * upHours,
    networkReceiveBytes: row.networkReceiveBytes ?? 0,
    networkTransmitBytes: row.networkTransmitBytes ?? 0,
  };
}

/**
 * Turns the answers of one chunk into an answer per hour. A value that is not a finite measurement
 * (NaN, ±Inf, negative) fails that hour: it would be wrong to store it, and wrong to store the hour
 * without it.
 */
export function hoursOfChunk(chunk: Chunk, answers: ChunkAnswers): Map<number, SourceHour> {
  const badValuesByHour = new Map<number, string[]>();
  const bad = (hour: number, reason: string) => {
    const reasons = badValuesByHour.get(hour) ?? [];
    reasons.push(reason);
    badValuesByHour.set(hour, reasons);
  };
  const readingsByHour = readingsOf(chunk, answers, bad);

  const hours = new Map<number, SourceHour>();
  for (let hour = chunk.from; hour < chunk.to; hour += HOUR_MS) {
    const badValues = badValuesByHour.get(hour);
    if (badValues !== undefined) {
      const more =
        badValues.length > BAD_VALUES_SHOWN ? ` and ${badValues.length - BAD_VALUES_SHOWN} more` : '';
      hours.set(hour, {
        status: 'failed',
        error: `Prometheus answered a bad value: ${badValues.slice(0, BAD_VALUES_SHOWN).join('; ')}${more}`,
      });
      continue;
    }
    const readings = readingsByHour.get(hour);
    // An hour Prometheus answered with no points: the instances had no samples, which is not a failure.
    const rows =
      readings === undefined
        ? []
        : [...readings].sort(([a], [b]) => (a < b ? -1 : 1)).map(([, r]) => rowOf(r));
    hours.set(hour, { status: 'ok', rows });
  }
  return hours;
}
