import { sameFigures, zeroFigures, type Breakdown, type Figures } from '../../domain/figures';
import { KEY_FIELD, LEVELS, type Level } from '../../domain/levels';
import { CPU_NAMES, METRICS, RESOURCE_NAMES, type MetricName } from '../../domain/metrics';
import { seedDate } from '../../domain/time';
import { FAILED, type DayEntry, type MonthRollup, type YearRollup } from '../../domain/usage';
import { CorruptFileError } from './errors';
import { isMonth } from './layout';

/** The catalogue's snake_case names: the seed's six (contract section 3), the resources beside them. */
const STORED_NAME = Object.fromEntries(METRICS.map((metric) => [metric.name, metric.stored])) as Record<
  MetricName,
  string
>;

/**
 * The figures a file holds: the seed's six always, the resources only where any is not 0, so a
 * CPU-only store keeps the seed's bytes and an old store reads its resources as 0.
 */
function storedFields(figures: Figures): readonly MetricName[] {
  return RESOURCE_NAMES.some((name) => figures[name] !== 0) ? STORED_FIELDS : CPU_NAMES;
}

const STORED_FIELDS: readonly MetricName[] = [...CPU_NAMES, ...RESOURCE_NAMES];

const HOUR_LABEL = /^([01]\d|2[0-3]):00$/;

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

/** Reads one file's JSON, naming the file in every complaint. */
export class FileReader {
  constructor(readonly path: string) {}

  parse(text: string): unknown {
    try {
      return JSON.parse(text);
    } catch (err) {
      return this.fail(`not valid JSON (${err instanceof Error ? err.message : String(err)})`);
    }
  }

  fail(reason: string): never {
    throw new CorruptFileError(this.path, reason);
  }

  object(value: unknown, where: string): Json {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      return this.fail(`${where} is not an object`);
    }
    return value as Json;
  }

  number(value: unknown, where: string): number {
    return typeof value === 'number' ? value : this.fail(`${where} is not a number`);
  }

  string(value: unknown, where: string): string {
    return typeof value === 'string' ? value : this.fail(`${where} is not a string`);
  }

  figures(value: unknown, where: string): Figures {
    const stored = this.object(value, where);
    const figures = zeroFigures();
    for (const field of CPU_NAMES) {
      figures[field] = this.number(stored[STORED_NAME[field]], `${where}.${STORED_NAME[field]}`);
    }
    // Written only where not all 0, and absent from stores written before them.
    for (const field of RESOURCE_NAMES) {
      const value = stored[STORED_NAME[field]];
      if (value !== undefined) figures[field] = this.number(value, `${where}.${STORED_NAME[field]}`);
    }
    return figures;
  }

  breakdown(value: unknown, where: string): Breakdown {
    const { all, ...machines } = this.object(value, where);
    return {
      all: this.figures(all, `${where}.all`),
      byMachine: Object.fromEntries(
        Object.entries(machines).map(([machine, figures]) => [
          machine,
          this.figures(figures, `${where}.${machine}`),
        ]),
      ),
    };
  }

  breakdowns(value: unknown, where: string): Record<string, Breakdown> {
    return Object.fromEntries(
      Object.entries(this.object(value, where)).map(([name, breakdown]) => [
        name,
        this.breakdown(breakdown, `${where}.${name}`),
      ]),
    );
  }

  hour(value: unknown, where: string): Breakdown | typeof FAILED {
    const all = Object.values(this.object(this.object(value, where).all, `${where}.all`));
    if (all.length > 0 && all.every((figure) => figure === FAILED)) return FAILED;
    return this.breakdown(value, where);
  }
}

export function parseDayFile(text: string, path: string, level: Level, key: string, date: string): DayEntry {
  const reader = new FileReader(path);
  const { totals, ...hours } = reader.object(
    reader.object(reader.parse(text), 'file').timeseries,
    'timeseries',
  );
  for (const label of Object.keys(hours)) {
    if (!HOUR_LABEL.test(label)) reader.fail(`timeseries has an unexpected field ${JSON.stringify(label)}`);
  }
  return {
    level,
    key,
    date,
    hours: Object.fromEntries(
      Object.entries(hours).map(([label, hour]) => [label, reader.hour(hour, `timeseries.${label}`)]),
    ),
    totals: reader.breakdown(totals, 'timeseries.totals'),
  };
}

export function parseMonthFile(
  text: string,
  path: string,
  level: Level,
  key: string,
  month: string,
): MonthRollup {
  const reader = new FileReader(path);
  const stored = reader.object(reader.parse(text), 'file');
  return {
    level,
    key,
    month,
    days: reader.breakdowns(stored.days, 'days'),
    totals: reader.breakdown(stored.totals, 'totals'),
  };
}

export function parseYearFile(
  text: string,
  path: string,
  level: Level,
  key: string,
  year: string,
): YearRollup {
  const reader = new FileReader(path);
  const stored = reader.object(reader.parse(text), 'file');
  return {
    level,
    key,
    year,
    months: reader.breakdowns(stored.months, 'months'),
    totals: reader.breakdown(stored.totals, 'totals'),
  };
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
