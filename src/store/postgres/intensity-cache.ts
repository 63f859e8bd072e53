import type pg from 'pg';
import type { IntensityCache } from '../../domain/intensity-cache';
import type { HourIntensity } from '../../domain/usage';
import { iso } from './reads';

/** The carbon-intensity cache in `carbon_intensity` (migration 4): measured hours only. */
export function postgresIntensityCache(pool: pg.Pool): IntensityCache {
  return {
    async get(fromHour, toHour) {
      const { rows } = await pool.query<{ hour: number; g: number; source: string }>(
        `SELECT extract(epoch FROM hour)::float8 * 1000 AS hour, g_per_kwh AS g, source
         FROM carbon_intensity WHERE hour >= $1 AND hour < $2`,
        [iso(fromHour), iso(toHour)],
      );
      return new Map(rows.map(({ hour, g, source }) => [hour, { gPerKwh: g, estimated: false, source }]));
    },
    async put(entries) {
      const real = [...entries].filter(([, value]) => isMeasured(value));
      if (real.length === 0) return;
      await pool.query(
        `INSERT INTO carbon_intensity (hour, g_per_kwh, source)
         SELECT * FROM unnest($1::timestamptz[], $2::float8[], $3::text[])
         ON CONFLICT (hour) DO UPDATE SET g_per_kwh = excluded.g_per_kwh, source = excluded.source`,
        [real.map(([hour]) => iso(hour)), real.map(([, v]) => v.gPerKwh), real.map(([, v]) => v.source)],
      );
    },
  };
}

function isMeasured(value: HourIntensity): boolean {
  return !value.estimated && Number.isFinite(value.gPerKwh) && value.gPerKwh >= 0;
}
