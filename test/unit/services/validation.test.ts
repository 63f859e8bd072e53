import { BadInputError } from '../../../src/errors';
import {
  MalformedDateTime,
  validateDays,
  validateKeys,
  validateRange,
} from '../../../src/services/validation';

const utc = (iso: string) => new Date(iso);

function badInput(run: () => unknown): { message: string; argument: unknown } {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(BadInputError);
    const { message, extensions } = error as BadInputError;
    expect(extensions.code).toBe('BAD_USER_INPUT');
    return { message, argument: extensions.argument };
  }
  throw new Error('expected a BadInputError');
}

describe('validateRange', () => {
  it('returns epoch ms of a good range', () => {
    expect(
      validateRange({
        from: utc('2025-09-21T00:00:00Z'),
        to: utc('2025-09-22T00:00:00Z'),
        granularity: 'HOUR',
      }),
    ).toEqual({
      granularity: 'HOUR',
      from: Date.UTC(2025, 8, 21),
      to: Date.UTC(2025, 8, 22),
    });
  });

  it('names the malformed argument and quotes what it got', () => {
    expect(
      badInput(() =>
        validateRange({
          from: new MalformedDateTime('"yesterday"'),
          to: utc('2025-09-22T00:00:00Z'),
          granularity: 'DAY',
        }),
      ),
    ).toEqual({
      message:
        'Argument "from": expected an ISO-8601 date-time such as 2025-09-21T00:00:00Z, got "yesterday"',
      argument: 'from',
    });
    expect(
      badInput(() =>
        validateRange({ from: utc('2025-09-21T00:00:00Z'), to: new Date(Number.NaN), granularity: 'DAY' }),
      ),
    ).toEqual({
      message: 'Argument "to": expected an ISO-8601 date-time such as 2025-09-21T00:00:00Z',
      argument: 'to',
    });
  });

  it('wants `from` before `to`', () => {
    const at = utc('2025-09-21T00:00:00Z');
    expect(badInput(() => validateRange({ from: at, to: at, granularity: 'HOUR' }))).toEqual({
      message: 'Argument "from" must be before "to"',
      argument: 'from',
    });
  });

  it.each([
    [
      'HOUR',
      '2024-01-01T00:00:00Z',
      '2025-01-01T00:00:00Z',
      '2025-01-01T00:00:01Z',
      'Argument "to" is more than 366 days after "from": the longest HOUR series',
    ],
    [
      'DAY',
      '2024-02-29T00:00:00Z',
      '2029-03-01T00:00:00Z',
      '2029-03-01T00:00:00.001Z',
      'Argument "to" is more than 5 years after "from": the longest DAY series',
    ],
    [
      'MONTH',
      '2000-01-01T00:00:00Z',
      '2050-01-01T00:00:00Z',
      '2050-01-01T01:00:00Z',
      'Argument "to" is more than 50 years after "from": the longest MONTH series',
    ],
    [
      'YEAR',
      '2000-01-01T00:00:00Z',
      '2050-01-01T00:00:00Z',
      '2051-01-01T00:00:00Z',
      'Argument "to" is more than 50 years after "from": the longest YEAR series',
    ],
  ] as const)(
    'limits a %s series: up to the limit is fine, past it is bad input',
    (granularity, from, longest, tooLong, message) => {
      expect(validateRange({ from: utc(from), to: utc(longest), granularity }).to).toBe(Date.parse(longest));
      expect(badInput(() => validateRange({ from: utc(from), to: utc(tooLong), granularity }))).toEqual({
        message,
        argument: 'to',
      });
    },
  );
});

describe('validateKeys', () => {
  it('allows 200 keys and refuses 201', () => {
    const keys = Array.from({ length: 201 }, (_, i) => `k${i}`);
    expect(validateKeys(keys.slice(0, 200))).toHaveLength(200);
    expect(badInput(() => validateKeys(keys))).toEqual({
      message: 'Argument "keys" holds 201 keys; one query may ask for at most 200',
      argument: 'keys',
    });
  });
});

describe('validateDays', () => {
  it('defaults to 365, also for an explicit null, and allows 1 to 3660', () => {
    expect(validateDays(undefined)).toBe(365);
    expect(validateDays(null)).toBe(365);
    expect(validateDays(1)).toBe(1);
    expect(validateDays(3660)).toBe(3660);
  });

  it.each([0, 3661, -5])('refuses %p', (days) => {
    expect(badInput(() => validateDays(days))).toEqual({
      message: `Argument "days" must be from 1 to 3660, got ${days}`,
      argument: 'days',
    });
  });
});
