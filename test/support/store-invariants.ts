import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { addBreakdownInto, zeroBreakdown, type Breakdown } from '../../src/domain/figures';
import { LEVELS } from '../../src/domain/levels';
import { FAILED } from '../../src/domain/usage';
import type { Store } from '../../src/store/store';

type Six = Record<string, number | 'failed'>;
type BreakdownJson = Record<string, Six>;

const DAY = /^(\d{4}-\d{2}-\d{2})\.json$/;
const MONTH = /^(\d{4}-\d{2})\.month\.json$/;
const YEAR = /^(\d{4})\.year\.json$/;
const TEMPORARY = /^\..+\.tmp$/;

/** Every file under `dir` that is not a temporary file, by path relative to `dir`. */
export async function storeFiles(dir: string): Promise<string[]> {
  const files: string[] = [];
  const walk = async (path: string): Promise<void> => {
    for (const entry of await readdir(path, { withFileTypes: true })) {
      const full = join(path, entry.name);
      if (entry.isDirectory()) await walk(full);
      else if (!TEMPORARY.test(entry.name)) files.push(relative(dir, full));
    }
  };
  await walk(dir);
  return files.sort();
}

/** Temporary files (`.name….tmp`) anywhere under `dir`. */
export async function temporaryFiles(dir: string): Promise<string[]> {
  const found: string[] = [];
  const walk = async (path: string): Promise<void> => {
    for (const entry of await readdir(path, { withFileTypes: true })) {
      const full = join(path, entry.name);
      if (entry.isDirectory()) await walk(full);
      else if (TEMPORARY.test(entry.name)) found.push(relative(dir, full));
    }
  };
  await walk(dir);
  return found;
}

/** The store files under `dataDir` that are not JSON (a half-written file would be one). */
export async function unreadableFiles(dataDir: string): Promise<string[]> {
  const bad: string[] = [];
  for (const file of await storeFiles(dataDir)) {
    if (!file.endsWith('.json')) continue;
    try {
      JSON.parse(await readFile(join(dataDir, file), 'utf8'));
    } catch (err) {
      bad.push(`${file}: ${(err as Error).message}`);
    }
  }
  return bad;
}

function sumInto(sum: BreakdownJson, add: BreakdownJson): void {
  for (const [machine, six] of Object.entries(add)) {
    const into = (sum[machine] ??= {});
    for (const [field, value] of Object.entries(six)) {
      if (typeof value === 'number') into[field] = ((into[field] as number | undefined) ?? 0) + value;
    }
  }
}

function differences(what: string, actual: BreakdownJson, want: BreakdownJson): string[] {
  const problems: string[] = [];
  const machines = new Set([...Object.keys(actual), ...Object.keys(want)]);
  for (const machine of machines) {
    const fields = new Set([...Object.keys(actual[machine] ?? {}), ...Object.keys(want[machine] ?? {})]);
    for (const field of fields) {
      const a = actual[machine]?.[field] ?? 0;
      const w = want[machine]?.[field] ?? 0;
      if (typeof a !== 'number' || typeof w !== 'number') {
        problems.push(`${what} ${machine}.${field}: ${String(a)} vs ${String(w)}`);
      } else if (Math.abs(a - w) > 1e-9 * Math.max(1, Math.abs(w))) {
        problems.push(`${what} ${machine}.${field}: stored ${a}, sum of its parts ${w}`);
      }
    }
  }
  return problems;
}

async function readJson(path: string): Promise<Record<string, unknown>> {
  return JSON.parse(await readFile(path, 'utf8')) as Record<string, unknown>;
}

/**
 * Where roll-ups disagree with what they roll up: each day's totals with its hours, each month
 * roll-up with its day entries (which days, their totals, their sum), each year roll-up with its
 * month roll-ups. Empty when the store is consistent.
 */
export async function rollupDisagreements(dataDir: string): Promise<string[]> {
  const problems: string[] = [];
  const ledgers = new Map<string, Set<string>>();
  const failedHours = async (month: string): Promise<Set<string>> => {
    let failed = ledgers.get(month);
    if (failed === undefined) {
      const path = join(dataDir, 'ledger', month.slice(0, 4), `${month}.json`);
      const ledger = (await readJson(path).catch(() => ({}))) as Record<string, { status?: string }>;
      failed = new Set(Object.entries(ledger).flatMap(([hour, r]) => (r?.status === 'failed' ? [hour] : [])));
      ledgers.set(month, failed);
    }
    return failed;
  };
  const usage = join(dataDir, 'usage');
  const dirs = async (path: string) =>
    (await readdir(path, { withFileTypes: true }).catch(() => []))
      .filter((e) => e.isDirectory())
      .map((e) => e.name);
  const files = async (path: string) =>
    (await readdir(path, { withFileTypes: true }).catch(() => []))
      .filter((e) => e.isFile())
      .map((e) => e.name);

  for (const level of await dirs(usage)) {
    for (const key of await dirs(join(usage, level))) {
      const keyDir = join(usage, level, key);
      const monthTotals = new Map<string, BreakdownJson>();
      for (const year of await dirs(keyDir)) {
        const yearDir = join(keyDir, year);
        const names = await files(yearDir);
        const dayTotals = new Map<string, BreakdownJson>();
        for (const name of names) {
          const date = DAY.exec(name)?.[1];
          if (date === undefined) continue;
          const day = (await readJson(join(yearDir, name))) as { timeseries: Record<string, BreakdownJson> };
          const { totals, ...hours } = day.timeseries;
          const sum: BreakdownJson = {};
          // An hour the ledger holds failed keeps any figures it had (for a failed retry not to
          // lose them) but does not count.
          const failed = await failedHours(date.slice(0, 7));
          for (const [label, hour] of Object.entries(hours)) {
            if (!failed.has(`${date}T${label}:00.000Z`)) sumInto(sum, hour);
          }
          problems.push(...differences(`${level}/${key}/${date} totals`, totals, sum));
          dayTotals.set(date, totals);
        }
        const months = new Set([...dayTotals.keys()].map((date) => date.slice(0, 7)));
        for (const name of names) {
          const month = MONTH.exec(name)?.[1];
          if (month === undefined) continue;
          months.delete(month);
          const rollup = (await readJson(join(yearDir, name))) as {
            totals: BreakdownJson;
            days: Record<string, BreakdownJson>;
          };
          const dates = [...dayTotals.keys()].filter((date) => date.startsWith(`${month}-`)).sort();
          if (JSON.stringify(Object.keys(rollup.days).sort()) !== JSON.stringify(dates)) {
            problems.push(
              `${level}/${key}/${month} rolls up days ${Object.keys(rollup.days)} but holds ${dates}`,
            );
          }
          const sum: BreakdownJson = {};
          for (const date of dates) {
            problems.push(
              ...differences(
                `${level}/${key}/${month} day ${date}`,
                rollup.days[date] ?? {},
                dayTotals.get(date)!,
              ),
            );
            sumInto(sum, dayTotals.get(date)!);
          }
          problems.push(...differences(`${level}/${key}/${month} totals`, rollup.totals, sum));
          monthTotals.set(month, rollup.totals);
        }
        for (const month of months) problems.push(`${level}/${key}/${month} has day entries and no roll-up`);
      }
      const years = new Set([...monthTotals.keys()].map((month) => month.slice(0, 4)));
      for (const name of await files(keyDir)) {
        const year = YEAR.exec(name)?.[1];
        if (year === undefined) continue;
        years.delete(year);
        const rollup = (await readJson(join(keyDir, name))) as {
          totals: BreakdownJson;
          months: Record<string, BreakdownJson>;
        };
        const months = [...monthTotals.keys()].filter((month) => month.startsWith(`${year}-`)).sort();
        if (JSON.stringify(Object.keys(rollup.months).sort()) !== JSON.stringify(months)) {
          problems.push(
            `${level}/${key}/${year} rolls up months ${Object.keys(rollup.months)} but holds ${months}`,
          );
        }
        const sum: BreakdownJson = {};
        for (const month of months) {
          problems.push(
            ...differences(
              `${level}/${key}/${year} month ${month}`,
              rollup.months[month] ?? {},
              monthTotals.get(month)!,
            ),
          );
          sumInto(sum, monthTotals.get(month)!);
        }
        problems.push(...differences(`${level}/${key}/${year} totals`, rollup.totals, sum));
      }
      for (const year of years)
        problems.push(`${level}/${key}/${year} has month roll-ups and no year roll-up`);
    }
  }
  return problems;
}

/** A small seeded generator (mulberry32): the same seed gives the same numbers, so a failure reproduces. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

/**
 * The hours day entries hold (`level/key/date HH:00`) that the ledger has no record of, neither ok
 * nor failed: what a batch killed between writing its days and recording its hours leaves, and a
 * repair must take out (roll-ups count only recorded hours).
 */
export async function hoursWithoutLedgerRecord(
  dataDir: string,
  ledgerMonth: (month: string) => Promise<ReadonlyMap<number, unknown>>,
): Promise<string[]> {
  const found: string[] = [];
  const usage = join(dataDir, 'usage');
  if (!existsSync(usage)) return found;
  const ledgers = new Map<string, ReadonlyMap<number, unknown>>();
  for (const path of await storeFiles(usage)) {
    const [level, key, , name] = path.split('/');
    const date = DAY.exec(name ?? '')?.[1];
    if (date === undefined) continue;
    const month = date.slice(0, 7);
    if (!ledgers.has(month)) ledgers.set(month, await ledgerMonth(month));
    const day = (await readJson(join(usage, path))) as { timeseries: Record<string, unknown> };
    for (const label of Object.keys(day.timeseries)) {
      if (label === 'totals') continue;
      if (!ledgers.get(month)!.has(Date.parse(`${date}T${label}:00Z`)))
        found.push(`${level}/${key}/${date} ${label}`);
    }
  }
  return found;
}

/** Relative difference two stored sums may have from float addition in another order. */
const SUM_TOLERANCE = 1e-9;

function breakdownDifferences(what: string, got: Breakdown, want: Breakdown): string[] {
  const problems: string[] = [];
  const compare = (
    part: string,
    a: Record<string, number> | undefined,
    b: Record<string, number> | undefined,
  ) => {
    for (const name of new Set([...Object.keys(a ?? {}), ...Object.keys(b ?? {})])) {
      const x = a?.[name] ?? 0;
      const y = b?.[name] ?? 0;
      if (Math.abs(x - y) > SUM_TOLERANCE * Math.max(1, Math.abs(x), Math.abs(y)))
        problems.push(`${what} ${part}.${name}: ${x} != ${y}`);
    }
  };
  compare('all', got.all, want.all);
  for (const machine of new Set([...Object.keys(got.byMachine), ...Object.keys(want.byMachine)]))
    compare(machine, got.byMachine[machine], want.byMachine[machine]);
  return problems;
}

/**
 * Where what a reader of `store` sees disagrees with itself, over `dates`: a day's totals with its
 * hours (failed ones not counted), a month with the days read, a year with the months read. Empty
 * when every level a reader can see adds up, as it must whatever happened to the store.
 */
export async function readerDisagreements(store: Store, dates: readonly string[]): Promise<string[]> {
  const problems: string[] = [];
  for (const level of LEVELS) {
    const keys = await store.listKeys(level);
    const years = [...new Set(dates.map((date) => date.slice(0, 4)))];
    const months = [...new Set(dates.map((date) => date.slice(0, 7)))];
    const dayTotals = new Map<string, Array<Breakdown | null>>();
    for (const date of dates) {
      const days = await store.readDays(level, date, keys);
      days.forEach((day, i) => {
        if (day === null) return;
        const sum = zeroBreakdown();
        for (const hour of Object.values(day.hours)) if (hour !== FAILED) addBreakdownInto(sum, hour);
        problems.push(...breakdownDifferences(`${level}/${keys[i]}/${date} totals`, day.totals, sum));
      });
      dayTotals.set(
        date,
        days.map((day) => day?.totals ?? null),
      );
    }
    const monthTotals = new Map<string, Array<Breakdown | null>>();
    for (const month of months) {
      const rollups = await store.readMonths(level, month, keys);
      rollups.forEach((rollup, i) => {
        const sum = zeroBreakdown();
        for (const date of dates.filter((d) => d.startsWith(`${month}-`))) {
          const totals = dayTotals.get(date)![i] ?? zeroBreakdown();
          addBreakdownInto(sum, totals);
          // A day read and not rolled up (or the other way round) matters only when it counts.
          const rolled = rollup?.days[date] ?? zeroBreakdown();
          problems.push(...breakdownDifferences(`${level}/${keys[i]}/${month} day ${date}`, rolled, totals));
        }
        problems.push(
          ...breakdownDifferences(`${level}/${keys[i]}/${month}`, rollup?.totals ?? zeroBreakdown(), sum),
        );
      });
      monthTotals.set(
        month,
        rollups.map((rollup) => rollup?.totals ?? null),
      );
    }
    for (const year of years) {
      const rollups = await store.readYears(level, year, keys);
      rollups.forEach((rollup, i) => {
        const sum = zeroBreakdown();
        for (const month of months.filter((m) => m.startsWith(`${year}-`))) {
          const totals = monthTotals.get(month)![i];
          if (totals !== null) addBreakdownInto(sum, totals);
        }
        problems.push(
          ...breakdownDifferences(`${level}/${keys[i]}/${year}`, rollup?.totals ?? zeroBreakdown(), sum),
        );
      });
    }
  }
  return problems;
}
