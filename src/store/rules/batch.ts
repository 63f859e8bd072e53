import { FIGURE_FIELDS, type Breakdown, type Figures } from '../../domain/figures';
import { LEVELS } from '../../domain/levels';
import { HOUR_MS, hourLabel, isDate, isWholeHour, periodStart, utcDate, utcMonth } from '../../domain/time';
import { FAILED, type HourOutcome, type IngestBatch, type LedgerHour } from '../../domain/usage';
import { type KeptHour, seriesVanished } from '../kept-figures';
import { InvalidBatchError } from '../store';
import { nextLedgerHour } from './ledger';
import type { DayChange } from './merge';

const HOUR_LABEL = /^([01]\d|2[0-3]):00$/;

/** The first figure that is not a finite number, as `part.field`; JSON would turn NaN or Infinity into null. */
function nonFinite(figures: Figures, part: string): string | undefined {
  for (const field of FIGURE_FIELDS) {
    if (!Number.isFinite(figures[field])) return `${part}.${field}`;
  }
  return undefined;
}

/** Checked for every bucket of a batch: the complaint is worded only when there is one. */
function checkBreakdown(breakdown: Breakdown, where: () => string): void {
  let bad = nonFinite(breakdown.all, 'all');
  for (const machine in breakdown.byMachine) {
    if (bad !== undefined) break;
    if (Object.hasOwn(breakdown.byMachine, machine)) bad = nonFinite(breakdown.byMachine[machine], machine);
  }
  if (bad !== undefined) throw new InvalidBatchError(`${where()}.${bad} is not a finite number`);
}

/** Rejects what would corrupt the store or contradict the outcomes, before anything is written. */
export function validateBatch(batch: IngestBatch): void {
  const okHours = new Set<number>();
  const seenHours = new Set<number>();
  for (const outcome of batch.outcomes) {
    if (!Number.isFinite(outcome.hour) || !isWholeHour(outcome.hour)) {
      throw new InvalidBatchError(`Outcome hour ${outcome.hour} is not the start of a UTC hour`);
    }
    if (seenHours.has(outcome.hour)) {
      throw new InvalidBatchError(
        `Hour ${new Date(outcome.hour).toISOString()} appears twice in the outcomes`,
      );
    }
    seenHours.add(outcome.hour);
    if (outcome.status === 'ok') okHours.add(outcome.hour);
  }
  const seenEntries = new Set<string>();
  for (const entry of batch.entries) {
    const where = `Day entry ${entry.level} ${JSON.stringify(entry.key)} ${entry.date}`;
    if (!LEVELS.includes(entry.level)) throw new InvalidBatchError(`${where}: unknown level`);
    if (!isDate(entry.date)) throw new InvalidBatchError(`${where}: date is not YYYY-MM-DD`);
    const identity = JSON.stringify([entry.level, entry.key, entry.date]);
    if (seenEntries.has(identity)) throw new InvalidBatchError(`${where}: appears twice`);
    seenEntries.add(identity);
    const dayStart = periodStart(entry.date);
    for (const [label, hour] of Object.entries(entry.hours)) {
      if (!HOUR_LABEL.test(label) || !okHours.has(dayStart + Number(label.slice(0, 2)) * HOUR_MS)) {
        throw new InvalidBatchError(`${where}: hour ${label} is not an ok hour of this batch`);
      }
      if (hour === FAILED) throw new InvalidBatchError(`${where}: hour ${label} is marked failed`);
      checkBreakdown(hour, () => `${where} ${label}`);
    }
  }
}

export interface BatchPlan {
  /** What happens to each UTC date (`YYYY-MM-DD`) the batch touches. */
  days: Map<string, DayChange>;
  /** The ledger months (`YYYY-MM`) after the batch, whole, for every month it touches. */
  ledger: Map<string, Map<number, LedgerHour>>;
  /** Ok hours whose stored figures stay as they are, ledger record and all (see `seriesVanished`). */
  kept: KeptHour[];
}

/**
 * Decides, from the ledger as it stands, what each outcome does to the day entries and the ledger.
 * `replace`: an ok answer replaces an ok hour even with fewer series or samples (an operator's
 * explicit choice).
 */
export function planBatch(
  outcomes: readonly HourOutcome[],
  ledgerBefore: ReadonlyMap<string, ReadonlyMap<number, LedgerHour>>,
  attemptedAt: number,
  replace = false,
): BatchPlan {
  const days = new Map<string, { replace: string[]; markFailed: string[] }>();
  const ledger = new Map<string, Map<number, LedgerHour>>();
  const kept: KeptHour[] = [];
  for (const outcome of [...outcomes].sort((a, b) => a.hour - b.hour)) {
    const month = utcMonth(outcome.hour);
    const monthLedger = ledger.get(month) ?? new Map(ledgerBefore.get(month));
    ledger.set(month, monthLedger);
    const previous = monthLedger.get(outcome.hour);
    const vanished = replace ? undefined : seriesVanished(previous, outcome);
    if (vanished !== undefined) {
      kept.push({ hour: outcome.hour, reason: vanished });
      continue;
    }
    monthLedger.set(outcome.hour, nextLedgerHour(previous, outcome, attemptedAt));

    // An hour failed since a damaged day entry went may still have other keys' figures: kept too.
    const keepsOkFigures =
      outcome.status === 'failed' &&
      (previous?.status === 'ok' || (previous?.status === 'failed' && previous.keepsFigures === true));
    if (keepsOkFigures) continue;
    const date = utcDate(outcome.hour);
    const change = days.get(date) ?? { replace: [], markFailed: [] };
    days.set(date, change);
    (outcome.status === 'ok' ? change.replace : change.markFailed).push(hourLabel(outcome.hour));
  }
  return { days, ledger, kept };
}
