import { FIGURE_FIELDS, type Figures } from './figures';

/**
 * Most CPU seconds one instance can spend in one mode in one hour: 3,600 s on each of 4,096 CPUs,
 * more hardware threads than any one machine has today (the largest servers have a few hundred
 * cores). A counter increase beyond it is a broken exporter or a corrupted sample, not usage; stored,
 * it would swamp every sum it enters, or overflow them.
 */
export const MAX_CPU_SECONDS_PER_HOUR = 3600 * 4096;

/** Why `seconds` cannot be an instance's CPU seconds of one hour, or undefined when it can. */
export function cpuSecondsProblem(seconds: number): string | undefined {
  if (!Number.isFinite(seconds)) return 'is not a finite number';
  if (seconds < 0) return 'is negative';
  if (seconds > MAX_CPU_SECONDS_PER_HOUR)
    return `is over ${MAX_CPU_SECONDS_PER_HOUR.toLocaleString('en')}, 3,600 s on each of 4,096 CPUs`;
  return undefined;
}

/** Why `value` cannot be a stored figure (an overflow, a negative), or undefined when it can. */
export function figureProblem(value: number): string | undefined {
  return Number.isFinite(value) && value >= 0 ? undefined : 'is not a finite number ≥ 0';
}

/** The first of the figures that cannot be stored, named with why, or undefined. */
export function figuresProblem(figures: Figures): string | undefined {
  for (const field of FIGURE_FIELDS) {
    const problem = figureProblem(figures[field]);
    if (problem !== undefined) return `${field} ${figures[field]} ${problem}`;
  }
  return undefined;
}

/**
 * Most gCO2eq per kWh a grid can emit: the dirtiest emit about 1,000 (coal alone about 820–1,000,
 * IPCC AR5 WG3 annex III), so ten times that is no measurement.
 */
export const MAX_G_PER_KWH = 10_000;

/** Why `gPerKwh` cannot be a carbon intensity, or undefined when it can. */
export function intensityProblem(gPerKwh: number): string | undefined {
  const problem = figureProblem(gPerKwh);
  if (problem !== undefined) return problem;
  return gPerKwh > MAX_G_PER_KWH ? `is over ${MAX_G_PER_KWH.toLocaleString('en')}` : undefined;
}
