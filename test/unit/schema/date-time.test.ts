import { DateTimeScalar, parseIsoDateTime } from '../../../src/schema/date-time';
import { MalformedDateTime } from '../../../src/services/validation';

describe('parseIsoDateTime', () => {
  it.each([
    ['2025-09-21T00:00:00.000Z', '2025-09-21T00:00:00.000Z'],
    ['2025-09-21T10:15:30Z', '2025-09-21T10:15:30.000Z'],
    ['2025-09-21t10:15:30.123456789z', '2025-09-21T10:15:30.123Z'],
    ['2025-09-21T10:15Z', '2025-09-21T10:15:00.000Z'],
    ['2025-09-21T11:00:00+01:00', '2025-09-21T10:00:00.000Z'],
    ['2025-09-20T23:30:00-00:30', '2025-09-21T00:00:00.000Z'],
    ['2025-09-21T12:00:00+0200', '2025-09-21T10:00:00.000Z'],
    ['2025-09-21T10:00:00', '2025-09-21T10:00:00.000Z'],
    ['2025-09-21 10:00:00Z', '2025-09-21T10:00:00.000Z'],
    ['2025-09-21', '2025-09-21T00:00:00.000Z'],
    ['2024-02-29', '2024-02-29T00:00:00.000Z'],
  ])('reads %s as %s', (text, iso) => {
    expect(parseIsoDateTime(text)).toBe(Date.parse(iso));
  });

  it.each([
    'yesterday',
    '',
    '2025-9-21',
    '2025-02-29',
    '2025-04-31',
    '2025-00-10',
    '2025-09-21T24:00:00Z',
    '2025-09-21T10:60:00Z',
    '2025-09-21T10:00:60Z',
    '2025-09-21T10:00:00+24:00',
    '2025-09-21T10:00:00+020',
    '2025-09-21T10:00:00+02',
    '2025-09-21T10:00:00 Z',
    '2025-09-21Z',
    '1969-12-31T23:00:00Z',
    '0099-01-01',
    '21/09/2025',
    ' 2025-09-21',
  ])('refuses %p', (text) => {
    expect(parseIsoDateTime(text)).toBeNull();
  });
});

describe('DateTimeScalar', () => {
  it('serialises epoch ms and Dates as UTC ISO strings with milliseconds', () => {
    expect(DateTimeScalar.serialize(Date.UTC(2025, 8, 21))).toBe('2025-09-21T00:00:00.000Z');
    expect(DateTimeScalar.serialize(new Date(Date.UTC(2025, 8, 21, 10, 30)))).toBe(
      '2025-09-21T10:30:00.000Z',
    );
  });

  it('refuses to serialise what is not an instant', () => {
    expect(() => DateTimeScalar.serialize('2025-09-21')).toThrow(TypeError);
    expect(() => DateTimeScalar.serialize(Number.NaN)).toThrow(TypeError);
  });

  it('parses malformed input to a MalformedDateTime quoting it, for the resolver to name the argument', () => {
    const parsed = DateTimeScalar.parseValue('nope');
    expect(parsed).toBeInstanceOf(MalformedDateTime);
    expect((parsed as MalformedDateTime).input).toBe('"nope"');
    expect(Number.isNaN(parsed.getTime())).toBe(true);
    expect(DateTimeScalar.parseValue('2025-09-21T00:00:00Z')).toEqual(new Date(Date.UTC(2025, 8, 21)));
  });

  it('quotes a long or nested malformed input only in part: a variable may be a megabyte of anything', () => {
    const long = DateTimeScalar.parseValue('9'.repeat(100_000)) as MalformedDateTime;
    expect(long.input).toBe(`"${'9'.repeat(79)}… (100002 characters)`);
    let deep: unknown = 'x';
    for (let i = 0; i < 20_000; i++) deep = [deep];
    expect((DateTimeScalar.parseValue(deep) as MalformedDateTime).input).toBe('a list');
    expect((DateTimeScalar.parseValue({ a: 1 }) as MalformedDateTime).input).toBe('an object');
  });
});
