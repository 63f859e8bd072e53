/**
 * Significant digits of every figure the API (and so `export`) answers. A double holds 15 to 17;
 * sums of many hours carry noise in the last of them (979886.9530000001 CPU-seconds), so what is
 * shown stops at 12: exact for any real measurement, and far finer than the model's own accuracy
 * (0.1 % on whole hours). The store keeps full precision; only answers are rounded.
 */
export const FIGURE_SIGNIFICANT_DIGITS = 12;

/** A figure as answered: rounded to FIGURE_SIGNIFICANT_DIGITS significant digits. */
export function presented(value: number): number {
  if (!Number.isFinite(value) || value === 0) return value;
  return byArithmetic(value) ?? Number(value.toPrecision(FIGURE_SIGNIFICANT_DIGITS));
}

/** 10^0 … 10^22: every one exact as a double (5^22 < 2^53). */
const POWERS_OF_TEN = Array.from({ length: 23 }, (_, i) => Number(`1e${i}`));
const LOWEST = 10 ** (FIGURE_SIGNIFICANT_DIGITS - 1);
const HIGHEST = 10 ** FIGURE_SIGNIFICANT_DIGITS;
/** How far from a tie the scaled figure must be: its rounding error is under 1e12 × 2^-53 ≈ 1.1e-4. */
const TIE_MARGIN = 1e-3;

/**
 * `Number(value.toPrecision(12))` without formatting and parsing a string: a year of hours rounds
 * some 70,000 figures an answer, and the string round trip was a tenth of the request. The value
 * is scaled to 12 integer digits and rounded, then scaled back by one exact power of ten: a
 * division (or product) of two exact doubles rounds correctly, as parsing the decimal string
 * does, so the result is the same double. Undefined (the caller formats) when the answer is not
 * certain: too near a tie or a power of ten, or the power not exact.
 */
function byArithmetic(value: number): number | undefined {
  const magnitude = Math.abs(value);
  const shift = FIGURE_SIGNIFICANT_DIGITS - 1 - Math.floor(Math.log10(magnitude));
  if (shift > 22 || shift < -22) return undefined;
  const power = POWERS_OF_TEN[Math.abs(shift)];
  const scaled = shift >= 0 ? magnitude * power : magnitude / power;
  if (!(scaled >= LOWEST + 1 && scaled < HIGHEST - 1)) return undefined;
  const whole = Math.floor(scaled);
  const fraction = scaled - whole;
  if (Math.abs(fraction - 0.5) < TIE_MARGIN) return undefined;
  const digits = fraction > 0.5 ? whole + 1 : whole;
  const rounded = shift >= 0 ? digits / power : digits * power;
  return value < 0 ? -rounded : rounded;
}
