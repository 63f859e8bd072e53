import { FIGURE_FIELDS, zeroFigures, type Breakdown, type Figures } from '../../domain/figures';
import { KEY_FIELD, LEVELS, type Level } from '../../domain/levels';
import { seedDate } from '../../domain/time';
import { FAILED, type DayEntry, type MonthRollup, type YearRollup } from '../../domain/usage';
import { CorruptFileError } from './errors';
import { isMonth } from './layout';

/** The seed's snake_case names of the six figures (contract section 3). */
const STORED_NAME: Record<keyof Figures, string> = {
  busyCpuSeconds: 'busy_cpu_seconds_total',
  idleCpuSeconds: 'idle_cpu_seconds_total',
  busyKwh: 'busy_kwh',
  idleKwh: 'idle_kwh',
  busyGco2eq: 'busy_gCo2eq',
  idleGco2eq: 'idle_gCo2eq',
};

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
  return Object.fromEntries(FIGURE_FIELDS.map((field) => [STORED_NAME[field], figures[field]]));
}

function breakdownJson(breakdown: Breakdown): Json {
  return Object.fromEntries([
    ['all', figuresJson(breakdown.all)],
    ...sortedEntries(breakdown.byMachine).map(([machine, figures]) => [machine, figuresJson(figures)]),
  ]);
}

function breakdownsJson(record: Record<string, Breakdown>): Json {
  return Object.fromEntries(
    sortedEntries(record).map(([name, breakdown]) => [name, breakdownJson(breakdown)]),
  );
}

const FAILED_HOUR_JSON = {
  all: Object.fromEntries(FIGURE_FIELDS.map((field) => [STORED_NAME[field], FAILED])),
};

export function dayFileText(entry: DayEntry): string {
  const hours = sortedEntries(entry.hours).map(([label, hour]) => [
    label,
    hour === FAILED ? FAILED_HOUR_JSON : breakdownJson(hour),
  ]);
  return toFileText({
    [KEY_FIELD[entry.level]]: entry.key,
    date: seedDate(entry.date),
    timeseries: Object.fromEntries([['totals', breakdownJson(entry.totals)], ...hours]),
  });
}

export function monthFileText(rollup: MonthRollup): string {
  return toFileText({
    [KEY_FIELD[rollup.level]]: rollup.key,
    month: rollup.month,
    totals: breakdownJson(rollup.totals),
    days: breakdownsJson(rollup.days),
  });
}

export function yearFileText(rollup: YearRollup): string {
  return toFileText({
    [KEY_FIELD[rollup.level]]: rollup.key,
    year: rollup.year,
    totals: breakdownJson(rollup.totals),
    months: breakdownsJson(rollup.months),
  });
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
    for (const field of FIGURE_FIELDS) {
      figures[field] = this.number(stored[STORED_NAME[field]], `${where}.${STORED_NAME[field]}`);
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
