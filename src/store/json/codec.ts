import { sameFigures, type Breakdown, type Figures } from '../../domain/figures';
import { KEY_FIELD, LEVELS, type Level } from '../../domain/levels';
import { CPU_NAMES, type MetricName } from '../../domain/metrics';
import { seedDate } from '../../domain/time';
import { FAILED, type DayEntry, type MonthRollup, type YearRollup } from '../../domain/usage';
import { FileReader } from './file-parse';
import { STORED_FIELDS, STORED_NAME, storedFields } from './stored-names';
import { isMonth } from './layout';

type Json = Record<string, unknown>;

/** Every file ends the same way, so equal content is equal bytes and unchanged files can be skipped. */
export function toFileText(value: unknown): string {
  return JSON.stringify(value, null, 2) + '\n';
}

function sortedEntries<T>(record: Record<string, T>): Array<[string, T]> {
  return Object.entries(record).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}

function figuresJson(figures: Figures): Json {
  return Object.fromEntries(storedFields(figures).map((field) => [STORED_NAME[field], figures[field]]));
}

function breakdownJson(breakdown: Breakdown): Json {
  return Object.fromEntries([
    ['all', figuresJson(breakdown.all)],
    ...sortedEntries(breakdown.byMachine).map(([machine, figures]) => [machine, figuresJson(figures)]),
  ]);
}

/*
 * The file texts are written by hand rather than by building objects for
 * `JSON.stringify(value, null, 2)`: rendering was most of the CPU an ingestion spends. The text is
 * byte for byte what `toFileText` would give for the same objects (the tests hold it to that), so
 * stores written before and after read, and compare, alike.
 */

/** `value` as `JSON.stringify(value, null, 2)` renders it nested at `indent`. */
function prettyAt(value: unknown, indent: string): string {
  return JSON.stringify(value, null, 2).replace(/\n/g, `\n${indent}`);
}

/** As JSON.stringify renders a number: JSON has no NaN or Infinity. */
function numberText(n: number): string {
  return Number.isFinite(n) ? String(n) : 'null';
}

/**
 * The `"name": ` openings of every figure at one indent (the first without the comma that
 * separates the others), and the indent of the closing brace.
 */
interface FigureOpenings {
  first: Map<MetricName, string>;
  rest: Map<MetricName, string>;
  close: string;
}

const FIGURE_OPENINGS = new Map<string, FigureOpenings>();

function figureOpenings(indent: string): FigureOpenings {
  let openings = FIGURE_OPENINGS.get(indent);
  if (openings === undefined) {
    const inner = `${indent}  `;
    const opening = (field: MetricName) => `\n${inner}${JSON.stringify(STORED_NAME[field])}: `;
    openings = {
      first: new Map(STORED_FIELDS.map((field) => [field, `{${opening(field)}`])),
      rest: new Map(STORED_FIELDS.map((field) => [field, `,${opening(field)}`])),
      close: `\n${indent}}`,
    };
    FIGURE_OPENINGS.set(indent, openings);
  }
  return openings;
}

/*
 * Every text below is built by `+=` alone, never sliced or joined: V8 keeps it as a rope of its
 * pieces and copies the bytes once, when the file is written.
 */
function figuresText(figures: Figures, indent: string): string {
  const { first, rest, close } = figureOpenings(indent);
  const fields = storedFields(figures);
  let text = first.get(fields[0])! + numberText(figures[fields[0]]);
  for (let i = 1; i < fields.length; i++) text += rest.get(fields[i])! + numberText(figures[fields[i]]);
  return text + close;
}

/** A name a JS object puts first whatever the insertion order (an array index). */
function isIndexName(name: string): boolean {
  return /^(0|[1-9]\d*)$/.test(name) && Number(name) < 4294967295;
}

/**
 * Names as JSON renders them, remembered: the same few machine types, hour labels and dates are
 * named in every file. Bounded, as machine types come from data.
 */
const QUOTED = new Map<string, string>();
const QUOTED_LIMIT = 10_000;

function quoted(name: string): string {
  let text = QUOTED.get(name);
  if (text === undefined) {
    if (QUOTED.size >= QUOTED_LIMIT) QUOTED.clear();
    text = JSON.stringify(name);
    QUOTED.set(name, text);
  }
  return text;
}

function byName(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function breakdownText(breakdown: Breakdown, indent: string): string {
  const machines = Object.keys(breakdown.byMachine);
  if (machines.length > 1) machines.sort(byName);
  // Such a name would move ahead of `all` in an object: left to JSON.stringify to order.
  if (machines.some(isIndexName)) return prettyAt(breakdownJson(breakdown), indent);
  const inner = `${indent}  `;
  const all = figuresText(breakdown.all, inner);
  let text = `{\n${inner}"all": ${all}`;
  for (const machine of machines) {
    const figures = breakdown.byMachine[machine];
    // An instance, or a machine type, runs on one machine type: its one part is its whole, and
    // turning numbers into text is most of what rendering costs.
    const rendered =
      machines.length === 1 && sameFigures(figures, breakdown.all) ? all : figuresText(figures, inner);
    text += `,\n${inner}${quoted(machine)}: ${rendered}`;
  }
  return `${text}\n${indent}}`;
}

/**
 * An object of named breakdowns, in name order, at `indent`. Every name here is a date, month or
 * hour label, never an array index, so the object's order is the insertion order.
 */
function breakdownsText(named: ReadonlyArray<readonly [string, string]>, indent: string): string {
  if (named.length === 0) return '{}';
  const inner = `${indent}  `;
  let text = '{';
  for (let i = 0; i < named.length; i++) {
    text += `${i === 0 ? '' : ','}\n${inner}${quoted(named[i][0])}: ${named[i][1]}`;
  }
  return `${text}\n${indent}}`;
}

/** A failed hour's marker replaces the seed's six (contract section 3). */
const FAILED_HOUR_JSON = {
  all: Object.fromEntries(CPU_NAMES.map((field) => [STORED_NAME[field], FAILED])),
};

const FAILED_HOUR_TEXT = prettyAt(FAILED_HOUR_JSON, '    ');

/** The top of a file: its key field and period, then one object field, as `toFileText` renders them. */
function fileText(
  head: ReadonlyArray<readonly [string, string]>,
  body: ReadonlyArray<readonly [string, string]>,
): string {
  let text = '{';
  let separator = '\n';
  for (const [name, value] of head) {
    text += `${separator}  ${JSON.stringify(name)}: ${JSON.stringify(value)}`;
    separator = ',\n';
  }
  for (const [name, value] of body) {
    text += `${separator}  ${JSON.stringify(name)}: ${value}`;
    separator = ',\n';
  }
  return `${text}\n}\n`;
}

export function dayFileText(entry: DayEntry): string {
  const named: Array<readonly [string, string]> = [['totals', breakdownText(entry.totals, '    ')]];
  for (const label of Object.keys(entry.hours).sort(byName)) {
    const hour = entry.hours[label];
    named.push([label, hour === FAILED ? FAILED_HOUR_TEXT : breakdownText(hour, '    ')]);
  }
  return fileText(
    [
      [KEY_FIELD[entry.level], entry.key],
      ['date', seedDate(entry.date)],
    ],
    [['timeseries', breakdownsText(named, '  ')]],
  );
}

function rollupText(
  head: ReadonlyArray<readonly [string, string]>,
  totals: Breakdown,
  partsName: string,
  parts: Record<string, Breakdown>,
): string {
  const names = Object.keys(parts).sort(byName);
  if (names.some(isIndexName)) {
    // Only a hand-edited file holds such a name; JSON.stringify orders it as before.
    return toFileText({
      ...Object.fromEntries(head),
      totals: breakdownJson(totals),
      [partsName]: Object.fromEntries(names.map((name) => [name, breakdownJson(parts[name])])),
    });
  }
  const named = names.map((name) => [name, breakdownText(parts[name], '    ')] as const);
  return fileText(head, [
    ['totals', breakdownText(totals, '  ')],
    [partsName, breakdownsText(named, '  ')],
  ]);
}

export function monthFileText(rollup: MonthRollup): string {
  return rollupText(
    [
      [KEY_FIELD[rollup.level], rollup.key],
      ['month', rollup.month],
    ],
    rollup.totals,
    'days',
    rollup.days,
  );
}

export function yearFileText(rollup: YearRollup): string {
  return rollupText(
    [
      [KEY_FIELD[rollup.level], rollup.key],
      ['year', rollup.year],
    ],
    rollup.totals,
    'months',
    rollup.months,
  );
}

/** One month of one key whose day entries a batch is changing. */
export interface MonthRef {
  level: Level;
  key: string;
  month: string;
}

export function journalText(months: readonly MonthRef[]): string {
  return toFileText({ months: months.map(({ level, key, month }) => ({ level, key, month })) });
}

export function parseJournal(text: string, path: string): MonthRef[] {
  const reader = new FileReader(path);
  const months = reader.object(reader.parse(text), 'file').months;
  if (!Array.isArray(months)) return reader.fail('months is not a list');
  return months.map((value, i) => {
    const ref = reader.object(value, `months[${i}]`);
    const level = reader.string(ref.level, `months[${i}].level`) as Level;
    const month = reader.string(ref.month, `months[${i}].month`);
    if (!LEVELS.includes(level)) reader.fail(`months[${i}].level is not a level`);
    if (!isMonth(month)) reader.fail(`months[${i}].month is not YYYY-MM`);
    return { level, key: reader.string(ref.key, `months[${i}].key`), month };
  });
}

export function instanceProjectsText(index: ReadonlyMap<string, ReadonlySet<string>>): string {
  const sorted = [...index].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return toFileText(
    Object.fromEntries(sorted.map(([instance, projects]) => [instance, [...projects].sort()])),
  );
}

export function parseInstanceProjects(text: string, path: string): Map<string, ReadonlySet<string>> {
  const reader = new FileReader(path);
  const file = reader.object(reader.parse(text), 'file');
  return new Map(
    Object.entries(file).map(([instance, projects]) => {
      if (!Array.isArray(projects))
        return reader.fail(`${JSON.stringify(instance)} is not a list of projects`);
      const names = projects.map((project, i) => reader.string(project, `${JSON.stringify(instance)}[${i}]`));
      return [instance, new Set(names)];
    }),
  );
}
