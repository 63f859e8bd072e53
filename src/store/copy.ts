import { FIGURE_FIELDS, type Figures, zeroFigures, addInto } from '../domain/figures';
import { LEVELS, type Level } from '../domain/levels';
import { DAY_MS, HOUR_MS, periodStart, utcDate, utcYear } from '../domain/time';
import { FAILED, type DayEntry, type HourOutcome, type IngestBatch, type LedgerHour } from '../domain/usage';
import type { Logger } from '../log';
import type { Store, StoreWriter } from './store';

/** The hours a store's ledger may hold: from 1970 to a year past now. */
const LEDGER_FROM = 0;
const ledgerTo = (): number => Date.now() + 366 * DAY_MS;

/** What a copy did, and what both stores hold after it. */
export interface CopyReport {
  /** Hours in the source's ledger (and now the target's), ok and failed. */
  hours: number;
  okHours: number;
  failedHours: number;
  /** Keys with usage at each level. */
  keys: Record<Level, number>;
  /** Days written by this run; fewer than the source's when it resumed, none when nothing was lacking. */
  daysCopied: number;
  /** Ledger hours of the days this run wrote (the days written again in whole, with those lacking). */
  hoursCopied: number;
  /** Hours the target's ledger held before this run (an earlier copy's). */
  heldBefore: number;
  /** The day this run began at when the target held hours already: the earliest day it lacked an hour of. */
  resumedAt: string | null;
  /** Every year's totals of every PROJECT, summed: the figures the verification compared, in short. */
  totals: Figures;
}

/** The target holds hours the source does not (or with another status): not a copy of it. */
export class NotACopyError extends Error {
  override readonly name = 'NotACopyError';

  /** `what` is how the target differs from the source. */
  constructor(what: string) {
    super(`${what}: copy-store writes only into an empty store or an earlier copy of the same source`);
  }
}

/** After the copy, the target answers differently from the source. */
export class CopyMismatchError extends Error {
  override readonly name = 'CopyMismatchError';
}

/**
 * Copies everything the API reads (hours, day totals and roll-ups at every level, the ledger, the
 * access index, the instance index, the carbon intensity cache) from `source` into `target`, one
 * day a batch, through the target's writer: each day is applied whole or not at all, and roll-ups
 * are the target's own, so they equal its hours. The target must be empty or an earlier copy of
 * the source: a copy resumes at the earliest day the target lacks an hour of (an interrupted copy's
 * last day, or days the source gained since, older ones included) and writes every day from it.
 * The caller holds both writers, so neither store changes meanwhile. Verifies at the end.
 */
export async function copyStore(
  source: Store,
  target: Store,
  writer: StoreWriter,
  options: { log: Logger; signal?: AbortSignal },
): Promise<CopyReport> {
  const ledger = await source.readLedger(LEDGER_FROM, ledgerTo());
  const dates = [...new Set([...ledger.keys()].map(utcDate))].sort();
  const keys = new Map<Level, string[]>();
  for (const level of LEVELS) keys.set(level, await source.listKeys(level));
  const { heldHours, from } = await resumePoint(source, target, ledger, keys);
  const instanceProjects = Object.fromEntries(
    [...(await source.readInstanceProjects())].map(([instance, projects]) => [
      instance,
      [...projects].sort(),
    ]),
  );
  const todo = from === null ? [] : dates.filter((date) => date >= from);
  if (todo.length === 0) {
    // Nothing of the usage to write: the access index still goes across.
    await writer.applyBatch({ outcomes: [], entries: [], attemptedAt: Date.now(), instanceProjects });
  }
  let hoursCopied = 0;
  for (const [i, date] of todo.entries()) {
    options.signal?.throwIfAborted();
    const batch = await dayBatch(source, ledger, keys, date);
    hoursCopied += batch.outcomes.length;
    // The access index is a union: handing it over with the first batch of each run is enough.
    if (i === 0) batch.instanceProjects = instanceProjects;
    await writer.applyBatch(batch, { replace: true });
    options.log.info('copied day', { date, hours: batch.outcomes.length, done: i + 1, of: todo.length });
  }
  await copyIndexes(source, target, ledger);
  const report = await verify(source, target, ledger, keys);
  return {
    ...report,
    daysCopied: todo.length,
    hoursCopied,
    heldBefore: heldHours,
    resumedAt: heldHours > 0 && from !== null ? from : null,
  };
}

/**
 * Where to start: the earliest day the target lacks an hour of (null: none), once the target is
 * proven empty or an earlier copy of the source; else NotACopyError, before anything is written.
 * Proven: every key it holds is the source's, every hour it holds is the source's with the same
 * status, and every day it holds has the source's figures, hour by hour, at every level (a copy
 * writes whole days, so a day it wrote equals the source's). A store of other figures over the
 * same hours (another energy model, a demo) is refused, not mixed with the source.
 */
async function resumePoint(
  source: Store,
  target: Store,
  ledger: ReadonlyMap<number, LedgerHour>,
  keys: ReadonlyMap<Level, string[]>,
): Promise<{ heldHours: number; from: string | null }> {
  for (const level of LEVELS) {
    const known = new Set(keys.get(level));
    const foreign = (await target.listKeys(level)).find((key) => !known.has(key));
    if (foreign !== undefined) {
      throw new NotACopyError(
        `the target holds ${level} ${JSON.stringify(foreign)}, which the source does not`,
      );
    }
  }
  const held = await target.readLedger(LEDGER_FROM, ledgerTo());
  if (held.size === 0) return { heldHours: 0, from: firstLacking(ledger, held) };
  for (const [hour, record] of held) {
    if (ledger.get(hour)?.status !== record.status) {
      throw new NotACopyError(
        `the target holds the hour ${new Date(hour).toISOString()} ${
          ledger.has(hour)
            ? `as ${record.status}, the source as ${ledger.get(hour)!.status}`
            : 'that the source does not'
        }`,
      );
    }
  }
  const days = [...new Set([...held.keys()].map(utcDate))].sort();
  // Over the hours the target holds: the source may have gained others since (older or newer).
  const heldHours = new Set(held.keys());
  for (const date of days) {
    for (const level of LEVELS) {
      const wanted = keys.get(level)!;
      const [theirs, ours] = await Promise.all([
        source.readDays(level, date, wanted, { byMachine: false }),
        target.readDays(level, date, wanted, { byMachine: false }),
      ]);
      wanted.forEach((key, i) => {
        const differs = dayDiffers(theirs[i], ours[i], ledger, heldHours);
        if (differs !== null) {
          throw new NotACopyError(
            `the target's figures of ${level} ${JSON.stringify(key)} ${differs} differ from the source's`,
          );
        }
      });
    }
  }
  return { heldHours: held.size, from: firstLacking(ledger, held) };
}

/**
 * The earliest day with an hour of the source the target lacks: before the target's first day
 * (hours the source gained since the copy), in a gap, or the day a copy was stopped at; null when
 * it lacks none. The days before it the target holds whole, proven the source's.
 */
function firstLacking(
  ledger: ReadonlyMap<number, LedgerHour>,
  held: ReadonlyMap<number, LedgerHour>,
): string | null {
  let earliest = Infinity;
  for (const hour of ledger.keys()) if (hour < earliest && !held.has(hour)) earliest = hour;
  return earliest === Infinity ? null : utcDate(earliest);
}

/**
 * Where a day entry the target holds differs from the source's (its ok hours: the target marks
 * failed hours itself): `on YYYY-MM-DD` or `at <hour>`; null when they agree.
 */
function dayDiffers(
  source: DayEntry | null,
  target: DayEntry | null,
  ledger: ReadonlyMap<number, LedgerHour>,
  heldHours: ReadonlySet<number>,
): string | null {
  const wanted = source === null ? null : okHoursOf(source, ledger, heldHours);
  const held = target === null ? null : okHoursOf(target, ledger, heldHours);
  if (wanted === null && held === null) return null;
  const date = (wanted ?? held)!.date;
  if (wanted === null || held === null) return `on ${date}`;
  const labels = new Set([...Object.keys(wanted.hours), ...Object.keys(held.hours)]);
  for (const label of [...labels].sort()) {
    const [a, b] = [wanted.hours[label], held.hours[label]];
    if (a === undefined || b === undefined || a === FAILED || b === FAILED || !closeFigures(a.all, b.all)) {
      return `at ${new Date(periodStart(date) + Number(label.slice(0, 2)) * HOUR_MS).toISOString()}`;
    }
  }
  return null;
}

/** One day of the source as a batch: its ledger hours as outcomes, its day entries' ok hours. */
async function dayBatch(
  source: Store,
  ledger: ReadonlyMap<number, LedgerHour>,
  keys: ReadonlyMap<Level, string[]>,
  date: string,
): Promise<IngestBatch> {
  const start = periodStart(date);
  const outcomes: HourOutcome[] = [];
  let attemptedAt = 0;
  for (let hour = start; hour < start + DAY_MS; hour += HOUR_MS) {
    const record = ledger.get(hour);
    if (record === undefined) continue;
    if (record.status === 'ok') {
      const { intensity, instanceHours, sampledHours } = record;
      outcomes.push({ hour, status: 'ok', intensity, instanceHours, ...(sampledHours && { sampledHours }) });
    } else {
      outcomes.push({ hour, status: 'failed', error: record.error });
      attemptedAt = Math.max(attemptedAt, Date.parse(record.lastAttemptAt) || 0);
    }
  }
  const entries: DayEntry[] = [];
  for (const level of LEVELS) {
    for (const entry of await source.readDays(level, date, keys.get(level)!)) {
      const okOnly = entry === null ? null : okHoursOf(entry, ledger);
      if (okOnly !== null) entries.push(okOnly);
    }
  }
  return { outcomes, entries, attemptedAt: attemptedAt || Date.now() };
}

/** The entry with only the hours the ledger holds ok (the target marks failed hours itself); null if none. */
function okHoursOf(
  entry: DayEntry,
  ledger: ReadonlyMap<number, LedgerHour>,
  within?: ReadonlySet<number>,
): DayEntry | null {
  const start = periodStart(entry.date);
  const hours: DayEntry['hours'] = {};
  for (const [label, figures] of Object.entries(entry.hours)) {
    const hour = start + Number(label.slice(0, 2)) * HOUR_MS;
    if (within !== undefined && !within.has(hour)) continue;
    if (figures !== FAILED && ledger.get(hour)?.status === 'ok') hours[label] = figures;
  }
  if (Object.keys(hours).length === 0) return null;
  return { ...entry, hours };
}

/** The instance index and the carbon intensity cache, over the ledger's hours. */
async function copyIndexes(
  source: Store,
  target: Store,
  ledger: ReadonlyMap<number, LedgerHour>,
): Promise<void> {
  if (ledger.size === 0) return;
  const from = Math.min(...ledger.keys());
  const to = Math.max(...ledger.keys()) + HOUR_MS;
  const { lives, throughHour } = await source.instances.list(from, to);
  await target.instances.record(lives, throughHour);
  const intensities = await source.intensityCache.get(from, to);
  if (intensities.size > 0) await target.intensityCache.put(intensities);
}

/** Compares the two stores: ledger statuses, keys at every level, and every key's year totals. */
async function verify(
  source: Store,
  target: Store,
  ledger: ReadonlyMap<number, LedgerHour>,
  keys: ReadonlyMap<Level, string[]>,
): Promise<Omit<CopyReport, 'daysCopied' | 'hoursCopied' | 'heldBefore' | 'resumedAt'>> {
  const copied = await target.readLedger(LEDGER_FROM, ledgerTo());
  const differs = [...ledger].find(([hour, record]) => copied.get(hour)?.status !== record.status);
  if (differs !== undefined || copied.size !== ledger.size) {
    const hour = differs?.[0] ?? [...copied.keys()].find((h) => !ledger.has(h))!;
    throw new CopyMismatchError(`the ledgers differ at ${new Date(hour).toISOString()}`);
  }
  const years = [...new Set([...ledger.keys()].map(utcYear))].sort();
  const counts = {} as Record<Level, number>;
  const totals = zeroFigures();
  for (const level of LEVELS) {
    const wanted = keys.get(level)!;
    const got = await target.listKeys(level);
    if (JSON.stringify(got) !== JSON.stringify(wanted)) {
      throw new CopyMismatchError(
        `the ${level} keys differ: ${wanted.length} in the source, ${got.length} copied`,
      );
    }
    counts[level] = wanted.length;
    for (const year of years) {
      const [before, after] = await Promise.all([
        source.readYears(level, year, wanted),
        target.readYears(level, year, wanted),
      ]);
      before.forEach((rollup, i) => {
        const copy = after[i];
        if (rollup === null && copy === null) return;
        if (rollup === null || copy === null || !closeFigures(rollup.totals.all, copy.totals.all)) {
          throw new CopyMismatchError(`the ${year} totals of ${level} ${JSON.stringify(wanted[i])} differ`);
        }
        if (level === 'PROJECT') addInto(totals, rollup.totals.all);
      });
    }
  }
  const okHours = [...ledger.values()].filter((record) => record.status === 'ok').length;
  return { hours: ledger.size, okHours, failedHours: ledger.size - okHours, keys: counts, totals };
}

/** Equal to a part in 10^12: sums of the same hours may round apart in the last bit. */
function closeFigures(a: Figures, b: Figures): boolean {
  return FIGURE_FIELDS.every(
    (field) => Math.abs(a[field] - b[field]) <= 1e-12 * Math.max(1, Math.abs(a[field])),
  );
}
