import type { HourIntensity } from '../../domain/usage';

/** Carbon intensity per hour. A source that cannot answer falls back and marks the hour estimated. */
export interface CarbonIntensitySource {
  /** An intensity for every whole hour in [fromHour, toHour). Never rejects for a fetch failure. */
  intensities(fromHour: number, toHour: number, signal?: AbortSignal): Promise<Map<number, HourIntensity>>;
}

export function staticIntensity(gPerKwh: number): CarbonIntensitySource {
  return {
    async intensities(fromHour, toHour) {
      const out = new Map<number, HourIntensity>();
      for (let h = fromHour; h < toHour; h += 3_600_000)
        out.set(h, { gPerKwh, estimated: false, source: 'static' });
      return out;
    },
  };
}
