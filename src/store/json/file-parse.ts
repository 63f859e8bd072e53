import { zeroFigures, type Breakdown, type Figures } from '../../domain/figures';
import { type Level } from '../../domain/levels';
import { CPU_NAMES, RESOURCE_NAMES } from '../../domain/metrics';
import { FAILED, type DayEntry, type MonthRollup, type YearRollup } from '../../domain/usage';
import { CorruptFileError } from './errors';
import { HOUR_LABEL, STORED_NAME } from './stored-names';

type Json = Record<string, unknown>;

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
  const { totals, ...hours } = timeseriesOf(reader, text);
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

/** Only the totals of a day file (what its month roll-up holds of it). */
export function parseDayTotals(text: string, path: string): Breakdown {
  const reader = new FileReader(path);
  return reader.breakdown(timeseriesOf(reader, text).totals, 'timeseries.totals');
}

/** A day file's `timeseries` object: its totals and its hours, by label. */
function timeseriesOf(reader: FileReader, text: string): Record<string, unknown> {
  return reader.object(reader.object(reader.parse(text), 'file').timeseries, 'timeseries');
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
