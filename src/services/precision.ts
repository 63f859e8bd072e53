/**
 * Significant digits of every figure the API (and so `export`) answers. A double holds 15 to 17;
 * sums of many hours carry noise in the last of them (979886.9530000001 CPU-seconds), so what is
 * shown stops at 12: exact for any real measurement, and far finer than the model's own accuracy
 * (0.1 % on whole hours). The store keeps full precision; only answers are rounded.
 */
export const FIGURE_SIGNIFICANT_DIGITS = 12;

/** A figure as answered: rounded to FIGURE_SIGNIFICANT_DIGITS significant digits. */
export function presented(value: number): number {
  return Number.isFinite(value) && value !== 0 ? Number(value.toPrecision(FIGURE_SIGNIFICANT_DIGITS)) : value;
}
