import pg from 'pg';
import type { ReadDb } from './read-routing';
import type { Breakdown } from '../../domain/figures';
import type { Level } from '../../domain/levels';
import { DAY_MS, HOUR_MS, hourLabel, nextBucketStart, periodStart, utcDate } from '../../domain/time';
import { FAILED, type DayEntry, type MonthRollup, type YearRollup } from '../../domain/usage';
import { sumHours } from '../rules/merge';
import { PartialReadError, UnreadableDataError } from '../store';
import { decodeBreakdown, type StoredBreakdown, UndecodableRowError } from './codec';

/** `dayAlls`: days whose breakdowns hold `all` alone (Store.readDays with `byMachine` false). */
type Kind = 'days' | 'dayAlls' | 'months' | 'years';
type Found = DayEntry | MonthRollup | YearRollup;

interface Request {
  kind: Kind;
  level: Level;
  period: string;
  keys: readonly string[];
  resolve(rows: Array<Found | null>): void;
  reject(error: unknown): void;
}

/** What a group of requests found, by key and then period; an UnreadableDataError where a row is damaged. */
type FoundByKey = Map<string, Map<string, Found | UnreadableDataError>>;

/**
 * Reads of days, months and years, gathered for one turn of the event loop and answered by one
 * range query per level (and per run of consecutive days): the read side asks a year of hours as
 * 366 reads of a day, which over SQL must be one indexed range read, not 366 round trips.
 */
export class CoalescedReads {
  private queue: Request[] = [];

  constructor(private readonly db: ReadDb) {}

  read<T extends Found>(
    kind: Kind,
    level: Level,
    period: string,
    keys: readonly string[],
  ): Promise<Array<T | null>> {
    return new Promise((resolve, reject) => {
      if (this.queue.length === 0) setImmediate(() => this.flush());
      this.queue.push({ kind, level, period, keys, resolve: resolve as Request['resolve'], reject });
    });
  }

  private flush(): void {
    const groups = new Map<string, Request[]>();
    for (const request of this.queue.splice(0)) {
      const id = `${request.kind}\u0000${request.level}`;
      groups.set(id, [...(groups.get(id) ?? []), request]);
    }
    for (const requests of groups.values()) void this.answer(requests);
  }

  private async answer(requests: Request[]): Promise<void> {
    const { kind, level } = requests[0];
    const keys = [...new Set(requests.flatMap((request) => request.keys))];
    const periods = [...new Set(requests.map((request) => request.period))].sort();
    let found: FoundByKey;
    try {
      found =
        kind === 'days' || kind === 'dayAlls'
          ? await this.days(level, keys, periods, kind === 'days')
          : kind === 'months'
            ? await this.months(level, keys, periods)
            : await this.years(level, keys, periods);
    } catch (error) {
      for (const request of requests) request.reject(error);
      return;
    }
    for (const request of requests) {
      const results = request.keys.map((key) => found.get(key)?.get(request.period) ?? null);
      if (results.some((result) => result instanceof UnreadableDataError)) {
        request.reject(new PartialReadError(results));
      } else {
        request.resolve(results as Array<Found | null>);
      }
    }
  }

  private async days(level: Level, keys: string[], dates: string[], byMachine: boolean): Promise<FoundByKey> {
    const hours = new Map<string, Map<string, DayEntry['hours']>>();
    const broken = new Map<string, Map<string, UnreadableDataError>>();
    await Promise.all(
      consecutiveDayRuns(dates).map(async ([from, to]) => {
        const { rows } = await this.db.query<HourRow>({
          text: `SELECT k.key, extract(epoch FROM h.hour)::float8 * 1000 AS hour, h.failed, ${byMachine ? HOUR_PARTS : HOUR_ALL}
           FROM usage_key k JOIN usage_hour h ON h.key_id = k.id
           WHERE k.level = $1 AND k.key = ANY($2::text[]) AND h.hour >= $3 AND h.hour < $4`,
          values: [level, keys, iso(from), iso(to)],
          types: sharedTextArrays(),
        });
        const dateOf = new Map<number, string>();
        for (const row of rows) {
          const dayStart = row.hour - (row.hour % DAY_MS);
          let date = dateOf.get(dayStart);
          if (date === undefined) dateOf.set(dayStart, (date = utcDate(dayStart)));
          const byDate = hours.get(row.key) ?? new Map<string, DayEntry['hours']>();
          hours.set(row.key, byDate);
          const day = byDate.get(date) ?? {};
          byDate.set(date, day);
          try {
            day[HOUR_LABELS[(row.hour - dayStart) / HOUR_MS]] = row.failed ? FAILED : decodeHour(row);
          } catch (cause) {
            const unreadable = new UnreadableDataError(level, row.key, date, { cause });
            broken.set(row.key, (broken.get(row.key) ?? new Map()).set(date, unreadable));
          }
        }
      }),
    );
    const found: FoundByKey = new Map();
    for (const [key, byDate] of hours) {
      const entries = new Map<string, Found | UnreadableDataError>();
      for (const [date, dayHours] of byDate) {
        const sorted = Object.fromEntries(Object.entries(dayHours).sort(([a], [b]) => (a < b ? -1 : 1)));
        entries.set(
          date,
          broken.get(key)?.get(date) ?? { level, key, date, hours: sorted, totals: sumHours(sorted) },
        );
      }
      found.set(key, entries);
    }
    return found;
  }

  private async months(level: Level, keys: string[], months: string[]): Promise<FoundByKey> {
    const from = months[0] + '-01';
    const to = iso(nextBucketStart('MONTH', periodStart(months.at(-1)!))).slice(0, 10);
    const [parts, totals] = await Promise.all([
      this.periodRows(
        `SELECT k.key, to_char(d.day, 'YYYY-MM-DD') AS period, d.machines, d.figures
         FROM usage_key k JOIN usage_day d ON d.key_id = k.id
         WHERE k.level = $1 AND k.key = ANY($2::text[]) AND d.day >= $3::date AND d.day < $4::date`,
        [level, keys, from, to],
      ),
      this.periodRows(
        `SELECT k.key, to_char(m.month, 'YYYY-MM') AS period, m.machines, m.figures
         FROM usage_key k JOIN usage_month m ON m.key_id = k.id
         WHERE k.level = $1 AND k.key = ANY($2::text[]) AND m.month >= $3::date AND m.month < $4::date`,
        [level, keys, from, to],
      ),
    ]);
    return rollups(
      level,
      parts,
      totals,
      (period) => period.slice(0, 7),
      (key, month, days, sum) => ({
        level,
        key,
        month,
        days,
        totals: sum,
      }),
    );
  }

  private async periodRows(text: string, values: unknown[]): Promise<PeriodRow[]> {
    return (await this.db.query<PeriodRow>({ text, values, types: sharedTextArrays() })).rows;
  }

  private async years(level: Level, keys: string[], years: string[]): Promise<FoundByKey> {
    const [from, to] = [Number(years[0]), Number(years.at(-1)) + 1];
    const [parts, totals] = await Promise.all([
      this.periodRows(
        `SELECT k.key, to_char(m.month, 'YYYY-MM') AS period, m.machines, m.figures
         FROM usage_key k JOIN usage_month m ON m.key_id = k.id
         WHERE k.level = $1 AND k.key = ANY($2::text[])
           AND m.month >= make_date($3, 1, 1) AND m.month < make_date($4, 1, 1)`,
        [level, keys, from, to],
      ),
      this.periodRows(
        `SELECT k.key, y.year::text AS period, y.machines, y.figures
         FROM usage_key k JOIN usage_year y ON y.key_id = k.id
         WHERE k.level = $1 AND k.key = ANY($2::text[]) AND y.year >= $3 AND y.year < $4`,
        [level, keys, from, to],
      ),
    ]);
    return rollups(
      level,
      parts,
      totals,
      (period) => period.slice(0, 4),
      (key, year, months, sum) => ({
        level,
        key,
        year,
        months,
        totals: sum,
      }),
    );
  }
}

type StoredRow = StoredBreakdown;

/** An hour row: its parts, or with `whole` its `all` part alone (HOUR_ALL). */
type HourRow = { key: string; hour: number; failed: boolean; whole?: boolean } & StoredRow;

const HOUR_PARTS = 'h.machines, h.figures';

/*
 * The `all` part of an hour's figures alone: the first of its machines + 1 equal parts. The
 * database then sends a fifth of the hex, and only `all` is decoded. `whole` says the row
 * splits into such parts at all, as decodeBreakdown checks of a full row, so a damaged row is
 * still found damaged (a NULL anywhere makes it false).
 */
const HOUR_ALL = `substring(h.figures FROM 1 FOR length(h.figures) / (cardinality(h.machines) + 1)) AS figures,
  coalesce(length(h.figures) > 0 AND length(h.figures) % (8 * (cardinality(h.machines) + 1)) = 0, false) AS whole`;

const NO_MACHINES: string[] = [];

function decodeHour(row: HourRow): Breakdown {
  if (row.whole === undefined) return decodeBreakdown(row);
  if (!row.whole) throw new UndecodableRowError(`hour figures do not split into their machines' parts`);
  return decodeBreakdown({ machines: NO_MACHINES, figures: row.figures });
}

/** `00:00` … `23:00`, by hour of the day: formatting a label a row shows up in profiles. */
const HOUR_LABELS = Array.from({ length: 24 }, (_, hour) => hourLabel(hour * HOUR_MS));

const TEXT_ARRAY_OID = 1009;

/**
 * Type parsers for one query that parse each distinct text[] once: a key's rows name the same
 * machines thousands of times, and parsing the array literal afresh each row was a sixth of a
 * year's read. The rows share the array, which is only read (codec.ts copies names into keys).
 */
export function sharedTextArrays(): pg.CustomTypesConfig {
  const getTypeParser = (oid: number, format?: 'text' | 'binary'): ((value: string) => unknown) => {
    const parse = pg.types.getTypeParser(oid, format ?? 'text') as (value: string) => unknown;
    if (oid !== TEXT_ARRAY_OID || format === 'binary') return parse;
    const parsed = new Map<string, unknown>();
    return (value) => {
      let array = parsed.get(value);
      if (array === undefined) parsed.set(value, (array = parse(value)));
      return array;
    };
  };
  return { getTypeParser: getTypeParser as pg.CustomTypesConfig['getTypeParser'] };
}
type PeriodRow = { key: string; period: string } & StoredRow;

/** Roll-ups from their parts' rows and their own total rows; a roll-up with no total row is absent. */
function rollups(
  level: Level,
  parts: readonly PeriodRow[],
  totals: readonly PeriodRow[],
  parentOf: (part: string) => string,
  build: (key: string, period: string, parts: Record<string, Breakdown>, sum: Breakdown) => Found,
): FoundByKey {
  const partsOf = new Map<string, Record<string, Breakdown>>();
  const broken = new Set<string>();
  for (const row of parts) {
    const id = `${row.key}\u0000${parentOf(row.period)}`;
    const record = partsOf.get(id) ?? {};
    partsOf.set(id, record);
    try {
      record[row.period] = decodeBreakdown(row);
    } catch {
      broken.add(id);
    }
  }
  const found: FoundByKey = new Map();
  for (const row of totals) {
    const id = `${row.key}\u0000${row.period}`;
    const byPeriod = found.get(row.key) ?? new Map<string, Found | UnreadableDataError>();
    found.set(row.key, byPeriod);
    try {
      if (broken.has(id)) throw new Error('a part of it cannot be decoded');
      const sorted = Object.fromEntries(
        Object.entries(partsOf.get(id) ?? {}).sort(([a], [b]) => (a < b ? -1 : 1)),
      );
      byPeriod.set(row.period, build(row.key, row.period, sorted, decodeBreakdown(row)));
    } catch (cause) {
      byPeriod.set(row.period, new UnreadableDataError(level, row.key, row.period, { cause }));
    }
  }
  return found;
}

/** Sorted dates (`YYYY-MM-DD`) as [start, end) epoch-ms runs of consecutive days. */
export function consecutiveDayRuns(dates: readonly string[]): Array<[number, number]> {
  const runs: Array<[number, number]> = [];
  for (const date of dates) {
    const start = periodStart(date);
    const last = runs.at(-1);
    if (last && last[1] === start) last[1] = start + DAY_MS;
    else runs.push([start, start + DAY_MS]);
  }
  return runs;
}

export const iso = (ms: number): string => new Date(ms).toISOString();
