import { promises as fsp, readFileSync, statSync } from 'node:fs';
import { readText } from '../../fs/files';
import { ConfigError } from '../../config';
import { floorHour, hoursOverlapping } from '../../domain/time';
import type { HourIntensity } from '../../domain/usage';
import { errorFields, silentLogger, type Logger } from '../../log';
import type { CarbonIntensitySource } from '../../ingest/ports';

export const CSV_SOURCE = 'csv';
export const CSV_FALLBACK_SOURCE = 'csv (fallback)';

export interface CsvIntensityConfig {
  file: string;
  fallbackGPerKwh: number;
}

/** A zone is required: a time without one would silently be read in the server's local time. */
const ISO_TIME_WITH_ZONE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/;

function parseTime(text: string): number | undefined {
  if (!ISO_TIME_WITH_ZONE.test(text)) return undefined;
  const ms = Date.parse(text);
  return Number.isFinite(ms) ? ms : undefined;
}

/**
 * Parses a `time,gPerKwh` CSV into hour start → g/kWh. Rows are hours or half hours (any instant
 * counts for the hour holding it); several rows within one hour are averaged. Every problem is
 * reported, each naming its line and column.
 */
export function parseIntensityCsv(text: string): Map<number, number> {
  const lines = text.replace(/^\uFEFF/, '').split(/\r?\n/);
  const header = lines[0].split(',').map((field) => field.trim());
  if (header.join(',') !== 'time,gPerKwh') {
    throw new ConfigError(['carbon.file line 1: expected the header "time,gPerKwh"']);
  }
  const problems: string[] = [];
  const lineOfTime = new Map<number, number>();
  const totals = new Map<number, { sum: number; rows: number }>();
  lines.forEach((line, index) => {
    const lineNumber = index + 1;
    if (lineNumber === 1 || line.trim() === '') return;
    const where = `carbon.file line ${lineNumber}`;
    const fields = line.split(',').map((field) => field.trim());
    if (fields.length !== 2) {
      problems.push(`${where}: expected 2 columns (time,gPerKwh), found ${fields.length}`);
      return;
    }
    const [timeText, valueText] = fields;
    const time = parseTime(timeText);
    const gPerKwh = valueText === '' ? NaN : Number(valueText);
    if (time === undefined) {
      problems.push(`${where}: time: expected an ISO time with a zone, like 2025-09-20T00:00Z`);
    } else if (lineOfTime.has(time)) {
      problems.push(`${where}: time: the same time as line ${lineOfTime.get(time)}`);
    }
    if (!Number.isFinite(gPerKwh) || gPerKwh < 0) problems.push(`${where}: gPerKwh: expected a number ≥ 0`);
    if (time === undefined || lineOfTime.has(time) || !Number.isFinite(gPerKwh) || gPerKwh < 0) return;

    lineOfTime.set(time, lineNumber);
    const hour = floorHour(time);
    const total = totals.get(hour) ?? { sum: 0, rows: 0 };
    totals.set(hour, { sum: total.sum + gPerKwh, rows: total.rows + 1 });
  });
  if (problems.length > 0) throw new ConfigError(problems);
  return new Map([...totals].map(([hour, { sum, rows }]): [number, number] => [hour, sum / rows]));
}

interface LoadedCsv {
  mtimeMs: number;
  size: number;
  byHour: Map<number, number>;
}

function loadAtStart(file: string): LoadedCsv {
  let text: string;
  let stats: { mtimeMs: number; size: number };
  try {
    stats = statSync(file);
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError([`carbon.file: cannot read ${file} (${(err as Error).message})`]);
  }
  return { mtimeMs: stats.mtimeMs, size: stats.size, byHour: parseIntensityCsv(text) };
}

/**
 * Hourly intensities from a CSV file, for grids without an API. The file is read and validated at
 * once (a bad file throws a `ConfigError`), and read again whenever its mtime or size changes; a
 * changed file that is unreadable or invalid is reported and the values read before are kept.
 * Hours the file does not cover get `fallbackGPerKwh`, marked estimated.
 */
export function createCsvIntensitySource(
  config: CsvIntensityConfig,
  deps: { log?: Logger } = {},
): CarbonIntensitySource {
  const log = deps.log ?? silentLogger;
  let loaded = loadAtStart(config.file);

  async function reloadIfChanged(): Promise<void> {
    try {
      const stats = await fsp.stat(config.file);
      if (stats.mtimeMs === loaded.mtimeMs && stats.size === loaded.size) return;
      const byHour = parseIntensityCsv(await readText(config.file));
      loaded = { mtimeMs: stats.mtimeMs, size: stats.size, byHour };
      log.info('carbon CSV re-read', { file: config.file, hours: byHour.size });
    } catch (err) {
      log.warn('carbon CSV changed but cannot be used; keeping the values read before', {
        file: config.file,
        ...(err instanceof ConfigError ? { problems: err.problems } : errorFields(err)),
      });
    }
  }

  return {
    async intensities(fromHour, toHour) {
      await reloadIfChanged();
      const out = new Map<number, HourIntensity>();
      const uncovered: number[] = [];
      for (const hour of hoursOverlapping(fromHour, toHour)) {
        const gPerKwh = loaded.byHour.get(hour);
        if (gPerKwh === undefined) {
          uncovered.push(hour);
          out.set(hour, { gPerKwh: config.fallbackGPerKwh, estimated: true, source: CSV_FALLBACK_SOURCE });
        } else {
          out.set(hour, { gPerKwh, estimated: false, source: CSV_SOURCE });
        }
      }
      if (uncovered.length > 0) {
        log.warn('carbon CSV has no rows for some hours; using the fallback intensity', {
          file: config.file,
          hours: uncovered.length,
          firstHour: new Date(uncovered[0]).toISOString(),
          fallbackGPerKwh: config.fallbackGPerKwh,
        });
      }
      return out;
    },
  };
}
