import type { HourIntensity } from './usage';

/** Hour intensities kept between runs, so an hour with a real value is asked of its source only once. */
export interface IntensityCache {
  /** The cached hours in [fromHour, toHour); hours not cached are absent. */
  get(fromHour: number, toHour: number): Promise<Map<number, HourIntensity>>;
  /** Keeps the given hours; estimated ones are dropped, so they are asked again next time. */
  put(entries: Map<number, HourIntensity>): Promise<void>;
}
