import { join } from 'node:path';
import type { IntensityCache } from '../../domain/intensity-cache';
import type { HourIntensity } from '../../domain/usage';
import { hoursOverlapping, monthsOverlapping, utcMonth } from '../../domain/time';
import { errorFields, silentLogger, type Logger } from '../../log';
import { readTextIfExists, writeFileAtomic } from '../../fs/files';

/** One month file: hour ISO (`2025-09-20T13:00:00.000Z`) → intensity. */
type MonthRecord = Record<string, HourIntensity>;

function isRealIntensity(value: unknown): value is HourIntensity {
  if (typeof value !== 'object' || value === null) return false;
  const { gPerKwh, estimated, source } = value as Record<string, unknown>;
  return (
    typeof gPerKwh === 'number' &&
    Number.isFinite(gPerKwh) &&
    gPerKwh >= 0 &&
    estimated === false &&
    typeof source === 'string'
  );
}

/**
 * A cache of one JSON file per UTC month, `<dir>/<YYYY-MM>.json`. A month is read the first time
 * it is asked for and kept in memory; writes to one month are queued so none is lost. A file that is
 * not valid JSON counts as empty (with a warning) and is replaced by the next write.
 */
export function fileIntensityCache(dir: string, log: Logger = silentLogger): IntensityCache {
  const months = new Map<string, Promise<MonthRecord>>();
  const monthWrites = new Map<string, Promise<void>>();
  const fileOf = (month: string) => join(dir, `${month}.json`);

  async function readMonth(month: string): Promise<MonthRecord> {
    const text = await readTextIfExists(fileOf(month));
    if (text === null) return {};
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (err) {
      log.warn('carbon intensity cache file is not valid JSON; treating it as empty', {
        file: fileOf(month),
        ...errorFields(err),
      });
      return {};
    }
    const record: MonthRecord = {};
    if (typeof parsed === 'object' && parsed !== null) {
      for (const [hour, value] of Object.entries(parsed)) if (isRealIntensity(value)) record[hour] = value;
    }
    return record;
  }

  function loadMonth(month: string): Promise<MonthRecord> {
    let loaded = months.get(month);
    if (!loaded) {
      loaded = readMonth(month);
      // A failed read (say, a permission error) is tried again next time rather than remembered.
      loaded.catch(() => months.delete(month));
      months.set(month, loaded);
    }
    return loaded;
  }

  async function writeMonth(month: string, additions: MonthRecord): Promise<void> {
    const merged = { ...(await loadMonth(month)), ...additions };
    const sorted = Object.fromEntries(Object.entries(merged).sort(([a], [b]) => a.localeCompare(b)));
    await writeFileAtomic(fileOf(month), JSON.stringify(sorted, null, 2) + '\n');
    months.set(month, Promise.resolve(sorted));
  }

  return {
    async get(fromHour, toHour) {
      const out = new Map<number, HourIntensity>();
      const records = new Map<string, MonthRecord>();
      for (const month of monthsOverlapping(fromHour, toHour)) records.set(month, await loadMonth(month));
      for (const hour of hoursOverlapping(fromHour, toHour)) {
        const cached = records.get(utcMonth(hour))?.[new Date(hour).toISOString()];
        if (cached) out.set(hour, cached);
      }
      return out;
    },

    async put(entries) {
      const byMonth = new Map<string, MonthRecord>();
      for (const [hour, intensity] of entries) {
        if (!isRealIntensity(intensity)) continue;
        const month = utcMonth(hour);
        const record = byMonth.get(month) ?? {};
        record[new Date(hour).toISOString()] = {
          gPerKwh: intensity.gPerKwh,
          estimated: false,
          source: intensity.source,
        };
        byMonth.set(month, record);
      }
      const writes = [...byMonth].map(([month, additions]) => {
        const previous = monthWrites.get(month) ?? Promise.resolve();
        const next = previous.catch(() => undefined).then(() => writeMonth(month, additions));
        monthWrites.set(month, next);
        return next;
      });
      await Promise.all(writes);
    },
  };
}
