import type { HourIntensity } from '../../domain/usage';
import type { CarbonIntensitySource } from '../../ingest/ports';

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
