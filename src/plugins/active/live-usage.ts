import type { EnergyConfig } from '../../config';
import { attribute, type AttributionLabels, type WorkspaceRegistry } from '../../domain/attribution';
import { costInstanceHour } from '../../domain/energy';
import { sumFigures, type Figures } from '../../domain/figures';
import { UNKNOWN } from '../../domain/levels';
import { floorHour, HOUR_MS } from '../../domain/time';
import type { HourIntensity } from '../../domain/usage';
import type { ActiveWorkspaceRecord } from '../../services/active-workspaces';
import { MAX_REQUEST_RANGE_MS } from '../carbon/carbon-intensity-api';
import type { VectorSample } from '../prometheus/client';
import { withStoredKeys } from '../../store/rules/keys';

/** One running series as Prometheus sees it now: its labels, its boot and its CPU seconds since. */
export interface LiveReading {
  /** The series' identity: its labels, whatever their order. */
  key: string;
  instance: string;
  /** Every label but `cpu` and `mode`. */
  labels: Record<string, string>;
  /** Epoch ms. */
  startedAt: number;
  busyCpuSeconds: number;
  idleCpuSeconds: number;
}

/** A series left out of a poll, and why. */
export interface SkippedSeries {
  instance: string;
  reason: string;
}

function labelKey(labels: Record<string, string>): string {
  return JSON.stringify(
    Object.keys(labels)
      .sort()
      .map((name) => [name, labels[name]]),
  );
}

/** Prometheus writes sample values as text: "123.5", "NaN", "+Inf". */
function numberOf(text: string): number {
  return text.trim() === '' ? Number.NaN : Number(text);
}

/**
 * Joins the three instant answers by series (idle, busy) and instance (boot time). A series missing
 * one side counts 0 there, as in ingestion. A series with no boot time or a value that is not a
 * CPU-seconds count is skipped: a live figure without its start, or from a broken counter, would
 * mislead, and one broken exporter must not blank the others.
 */
export function readingsOf(
  idle: readonly VectorSample[],
  busy: readonly VectorSample[],
  bootTimes: readonly VectorSample[],
): { readings: LiveReading[]; skipped: SkippedSeries[] } {
  const bootMsByInstance = new Map<string, number>();
  for (const { metric, value } of bootTimes) {
    const seconds = numberOf(value[1]);
    if (Number.isFinite(seconds) && seconds > 0) {
      bootMsByInstance.set(metric.instance, Math.round(seconds * 1000));
    }
  }
  const byKey = new Map<string, LiveReading>();
  const skipped = new Map<string, SkippedSeries>();
  const sides = [
    ['idle', idle],
    ['busy', busy],
  ] as const;
  for (const [side, answer] of sides) {
    for (const { metric, value } of answer) {
      const key = labelKey(metric);
      // Every scraped series has an instance; one stripped of it by relabelling still counts.
      const instance = metric.instance ?? UNKNOWN;
      const cpuSeconds = numberOf(value[1]);
      const startedAt = bootMsByInstance.get(instance);
      if (!(Number.isFinite(cpuSeconds) && cpuSeconds >= 0)) {
        skipped.set(key, { instance, reason: `${side} CPU seconds ${JSON.stringify(value[1])}` });
      } else if (startedAt === undefined) {
        skipped.set(key, { instance, reason: 'no valid node_boot_time_seconds' });
      }
      if (skipped.has(key) || startedAt === undefined) continue;
      let reading = byKey.get(key);
      if (reading === undefined) {
        reading = { key, instance, labels: metric, startedAt, busyCpuSeconds: 0, idleCpuSeconds: 0 };
        byKey.set(key, reading);
      }
      if (side === 'idle') reading.idleCpuSeconds += cpuSeconds;
      else reading.busyCpuSeconds += cpuSeconds;
    }
  }
  for (const key of skipped.keys()) byKey.delete(key);
  return { readings: [...byKey.values()], skipped: [...skipped.values()] };
}

/** The poller's memory of one series' current run, so the next poll can add only what is new. */
export interface RunTally {
  startedAt: number;
  /** When the run was last read, epoch ms. */
  observedAt: number;
  /** Since boot, as of `observedAt`. */
  figures: Figures;
}

/**
 * `node_boot_time_seconds` is the wall clock minus the uptime, so a clock step (NTP) nudges it while
 * the machine runs on. A reboot moves it by the whole previous run and resets the counters.
 */
const BOOT_TIME_JITTER_MS = 5_000;

/**
 * How far back the mean intensity for a run's unobserved past reaches: one request to the carbon
 * intensity API (its 14-day maximum), so a first poll over long-running machines stays one call.
 */
const MEAN_INTENSITY_LOOKBACK_MS = MAX_REQUEST_RANGE_MS;

/**
 * The time-weighted mean of the hourly intensities over [from, to]. When the interval is empty (a
 * boot time at or after `to`, from a skewed clock) it is the intensity of the hour holding `to`.
 */
export function meanIntensity(byHour: ReadonlyMap<number, HourIntensity>, from: number, to: number): number {
  const gPerKwhAt = (hour: number): number => {
    const intensity = byHour.get(hour);
    if (intensity === undefined) throw new Error(`no carbon intensity for ${new Date(hour).toISOString()}`);
    return intensity.gPerKwh;
  };
  if (to <= from) return gPerKwhAt(floorHour(to));
  let weighted = 0;
  for (let hour = floorHour(from); hour < to; hour += HOUR_MS) {
    weighted += (Math.min(to, hour + HOUR_MS) - Math.max(from, hour)) * gPerKwhAt(hour);
  }
  return weighted / (to - from);
}

/**
 * The start of the interval, ending now, whose mean intensity costs the kWh a poll has not counted
 * yet: the previous poll of the same run, else its boot (at most `MEAN_INTENSITY_LOOKBACK_MS` ago).
 */
export function intensityFrom(reading: LiveReading, previous: RunTally | undefined, now: number): number {
  return continues(reading, previous)
    ? previous.observedAt
    : Math.max(reading.startedAt, now - MEAN_INTENSITY_LOOKBACK_MS);
}

function continues(reading: LiveReading, previous: RunTally | undefined): previous is RunTally {
  return (
    previous !== undefined &&
    Math.abs(reading.startedAt - previous.startedAt) <= BOOT_TIME_JITTER_MS &&
    reading.busyCpuSeconds >= previous.figures.busyCpuSeconds &&
    reading.idleCpuSeconds >= previous.figures.idleCpuSeconds
  );
}

export interface LiveUsageInputs {
  /** Epoch ms of this poll. */
  now: number;
  labels: AttributionLabels;
  registry: WorkspaceRegistry;
  energy: EnergyConfig;
  /** Intensities of every hour from the earliest `intensityFrom` to the hour holding `now`. */
  intensities: ReadonlyMap<number, HourIntensity>;
}

/**
 * Each reading attributed (labels, then the registry at the current hour) and costed since boot.
 *
 * kWh is the energy model applied to the CPU seconds since boot. Carbon is exactly
 * Σ over hours of that hour's kWh × its intensity, but one reading cannot say how its kWh split over
 * the hours, so it accrues poll by poll: the kWh that appeared since the previous poll of the same
 * run is costed at the mean intensity of that interval (one minute by default, so within an hour or
 * split across two by time). That is the exact form at the poll's resolution. What happened before
 * the poller first saw a run (a run older than the service, or than its last restart) is costed at
 * the time-weighted mean intensity over [startedAt, first poll] (its last 14 days at most): exact
 * when the intensity is constant (the static source, the default) or the load steady, and otherwise
 * off by how much the load and the intensity moved together. The ledger's hourly figures remain the
 * exact account.
 */
export function liveUsage(
  readings: readonly LiveReading[],
  previous: ReadonlyMap<string, RunTally>,
  inputs: LiveUsageInputs,
): { workspaces: ActiveWorkspaceRecord[]; tallies: Map<string, RunTally> } {
  const hour = floorHour(inputs.now);
  const workspaces: ActiveWorkspaceRecord[] = [];
  const tallies = new Map<string, RunTally>();
  for (const reading of readings) {
    // Keys as the stores count them (README, Attribution), so energy.machines and token scopes
    // match a long label's shortened key here as they do in the hourly figures.
    const attributed = withStoredKeys(
      attribute(
        {
          hour,
          instance: reading.instance,
          labels: reading.labels,
          busyCpuSeconds: reading.busyCpuSeconds,
          idleCpuSeconds: reading.idleCpuSeconds,
        },
        inputs.labels,
        inputs.registry,
      ),
    );
    const tally = previous.get(reading.key);
    const counted = continues(reading, tally) ? tally.figures : undefined;
    const uncounted = costInstanceHour(
      {
        ...attributed,
        busyCpuSeconds: reading.busyCpuSeconds - (counted?.busyCpuSeconds ?? 0),
        idleCpuSeconds: reading.idleCpuSeconds - (counted?.idleCpuSeconds ?? 0),
      },
      inputs.energy,
      meanIntensity(inputs.intensities, intensityFrom(reading, tally, inputs.now), inputs.now),
    );
    const figures = sumFigures(counted === undefined ? [uncounted] : [counted, uncounted]);
    tallies.set(reading.key, { startedAt: reading.startedAt, observedAt: inputs.now, figures });
    workspaces.push({
      instance: reading.instance,
      host: attributed.host,
      machineName: attributed.machineName,
      project: attributed.project,
      // The API's null is the "unknown" key of the usage series: no label, no registry record.
      user: attributed.user === UNKNOWN ? null : attributed.user,
      experiment: attributed.experiment === UNKNOWN ? null : attributed.experiment,
      startedAt: reading.startedAt,
      busyKwh: figures.busyKwh,
      idleKwh: figures.idleKwh,
      busyGco2eq: figures.busyGco2eq,
      idleGco2eq: figures.idleGco2eq,
    });
  }
  return { workspaces, tallies };
}
