import { GraphQLScalarType, Kind, print } from 'graphql';
import { isoOf } from '../domain/iso';
import { MalformedDateTime } from '../services/validation';

/**
 * `2025-09-21`, `2025-09-21T10:00Z`, `2025-09-21T10:00:00.000Z`, `2025-09-21T11:00:00+01:00`
 * (or ISO 8601's basic `+0100`). A date alone is midnight UTC; a time without an offset is UTC,
 * since every time here is.
 */
const ISO_DATE_TIME =
  /^(\d{4})-(\d{2})-(\d{2})(?:[Tt ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?(?:([Zz])|([+-])(\d{2}):?(\d{2}))?)?$/;

/** Years outside this window are mistakes rather than history, and `Date.UTC` misreads years 0–99. */
const FIRST_YEAR = 1970;
const LAST_YEAR = 9999;

/** Epoch ms of an ISO-8601 date-time, or null when it is malformed or names no real instant. */
export function parseIsoDateTime(text: string): number | null {
  const match = ISO_DATE_TIME.exec(text);
  if (!match) return null;
  const [, y, mo, d, h = '0', mi = '0', s = '0', fraction = '', , sign, offsetH = '0', offsetM = '0'] = match;
  const [year, month, day, hour, minute, second] = [y, mo, d, h, mi, s].map(Number);
  const daysInMonth = new Date(Date.UTC(year, month, 0)).getUTCDate();
  const fieldsValid =
    year >= FIRST_YEAR &&
    year <= LAST_YEAR &&
    month >= 1 &&
    month <= 12 &&
    day >= 1 &&
    day <= daysInMonth &&
    hour <= 23 &&
    minute <= 59 &&
    second <= 59 &&
    Number(offsetH) <= 23 &&
    Number(offsetM) <= 59;
  if (!fieldsValid) return null;
  const ms = Number(fraction.padEnd(3, '0').slice(0, 3));
  const offsetMinutes = (sign === '-' ? -1 : 1) * (Number(offsetH) * 60 + Number(offsetM));
  return Date.UTC(year, month - 1, day, hour, minute, second, ms) - offsetMinutes * 60_000;
}

/** A date-time argument as resolvers receive it: a Date, or a MalformedDateTime quoting the input. */
export function parseDateTimeInput(value: unknown): Date {
  if (value instanceof Date && !Number.isNaN(value.getTime())) return value;
  if (typeof value === 'string') {
    const ms = parseIsoDateTime(value);
    if (ms !== null) return new Date(ms);
  }
  return new MalformedDateTime(quoted(value));
}

/** Characters of a malformed input quoted back in the error: enough to recognise it. */
const QUOTED_CHARS = 80;

/** `value` as the client wrote it, cut short: a variable may be a megabyte of anything. */
function quoted(value: unknown): string {
  if (typeof value === 'object' && value !== null) return Array.isArray(value) ? 'a list' : 'an object';
  return cut(JSON.stringify(value) ?? String(value));
}

function cut(text: string): string {
  return text.length <= QUOTED_CHARS ? text : `${text.slice(0, QUOTED_CHARS)}… (${text.length} characters)`;
}

function serializeDateTime(value: unknown): string {
  const ms = value instanceof Date ? value.getTime() : value;
  if (typeof ms !== 'number' || !Number.isFinite(ms)) {
    throw new TypeError(`DateTime cannot represent ${String(value)}`);
  }
  return isoOf(ms);
}

/**
 * Output is always `2025-09-21T00:00:00.000Z`. Input that is not a date-time is not rejected here
 * but parsed to a `MalformedDateTime`, so the resolver's error can name the argument
 * (contract section 4) instead of failing validation anonymously.
 */
export const DateTimeScalar = new GraphQLScalarType<Date, string>({
  name: 'DateTime',
  description:
    'An instant, ISO-8601 in UTC. Output: `2025-09-21T00:00:00.000Z`. Input: a date-time with `Z` or an ' +
    'offset (`2025-09-21T11:00:00+01:00` or `+0100`); without an offset, or a date alone (midnight), it is ' +
    'read as UTC.',
  serialize: serializeDateTime,
  parseValue: parseDateTimeInput,
  parseLiteral: (node) =>
    node.kind === Kind.STRING ? parseDateTimeInput(node.value) : new MalformedDateTime(cut(print(node))),
});
