/** The zod building blocks every config section shares: numbers in range, labels, URLs, cron expressions. */
import { parseExpression } from 'cron-parser';
import { z } from 'zod';
import { MAX_G_PER_KWH } from '../domain/plausible';

export const positiveNumber = z
  .number({ error: 'expected a positive number' })
  .positive({ error: 'expected a positive number' });
export const nonNegativeNumber = z
  .number({ error: 'expected a number ≥ 0' })
  .nonnegative({ error: 'expected a number ≥ 0' });
/**
 * Upper bounds on coefficients, so that no figure they multiply can overflow or swamp a sum: far
 * above any real value, far below where a double loses meaning.
 */
export const MAX_WATTS_PER_CORE = 10_000;
export const MAX_PUE = 10;
export const wattsPerCore = (min: 'positive' | 'nonnegative') =>
  (min === 'positive' ? positiveNumber : nonNegativeNumber).max(MAX_WATTS_PER_CORE, {
    error: `expected at most ${MAX_WATTS_PER_CORE} W per core`,
  });
export const gramsPerKwh = nonNegativeNumber.max(MAX_G_PER_KWH, {
  error: `expected at most ${MAX_G_PER_KWH} gCO2eq/kWh (the dirtiest grids emit about 1,000)`,
});
export const positiveInt = z
  .number({ error: 'expected a positive whole number' })
  .int({ error: 'expected a positive whole number', abort: true })
  .positive({ error: 'expected a positive whole number' });
/**
 * A whole number from `min` to `max`, with one message that says both, however it is missed (`of`
 * names the unit: `a whole number of milliseconds from 1000 to 3600000`).
 */
export function wholeNumberIn(min: number, max: number, of = '', why = ''): z.ZodNumber {
  const error = `expected a whole number${of && ` of ${of}`} from ${min} to ${max}${why && ` (${why})`}`;
  return z.number({ error }).int({ error, abort: true }).min(min, { error }).max(max, { error });
}
/**
 * A timeout in milliseconds: Node runs a timer longer than 2^31 − 1 ms after 1 ms, so a longer one
 * would time everything out at once.
 */
export const timeoutMs = wholeNumberIn(1, 2_147_483_647, 'milliseconds', "Node's longest timer");
export const labelName = z
  .string({ error: 'expected a Prometheus label name' })
  .regex(/^[a-zA-Z_][a-zA-Z0-9_]*$/, { error: 'expected a Prometheus label name' });
/**
 * A regular expression for a PromQL `!~` matcher. JavaScript's syntax is close enough to RE2's to
 * catch the usual mistakes (an unclosed group) here rather than as failed hours.
 */
export const promqlRegex = z.string({ error: 'expected a regular expression' }).check((ctx) => {
  try {
    new RegExp(ctx.value);
  } catch (err) {
    ctx.issues.push({
      code: 'custom',
      input: ctx.value,
      message: `expected a regular expression (${err instanceof Error ? err.message : String(err)})`,
    });
  }
});
export const httpUrl = z.url({ protocol: /^https?$/, error: 'expected an http(s) URL' });
/** Why node-schedule would refuse `expression` (it parses with cron-parser too), or null. */
export function cronProblem(expression: string): string | null {
  try {
    parseExpression(expression, { utc: true });
    return null;
  } catch (err) {
    return err instanceof Error ? err.message : String(err);
  }
}

/**
 * Five fields, or six with seconds first, each in range: checked with the config, so `serve`
 * never gets as far as starting with one it cannot schedule.
 */
export const cron = z
  .string({ error: 'expected a cron expression' })
  .refine((s) => [5, 6].includes(s.trim().split(/\s+/).length), {
    error: 'expected a cron expression of 5 or 6 fields',
    abort: true,
  })
  .check((ctx) => {
    const problem = cronProblem(ctx.value);
    if (problem !== null) {
      ctx.issues.push({
        code: 'custom',
        input: ctx.value,
        message: `expected a valid cron expression (${problem})`,
      });
    }
  });
