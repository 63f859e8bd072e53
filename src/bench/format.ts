/** How the bench prints its figures: a ratio, seconds, and a target's verdict. */
export const ratio = (a: number, b: number): string => `${(a / b).toFixed(2)}×`;
export const seconds = (value: number): string => `${value.toFixed(1)} s`;
export const verdict = (ok: boolean): string => (ok ? 'met' : 'MISSED');
