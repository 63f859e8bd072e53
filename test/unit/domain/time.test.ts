import {
  bucketsOverlapping,
  daysOverlapping,
  hourLabel,
  hoursOverlapping,
  monthsOverlapping,
  periodStart,
  seedDate,
  utcDate,
} from '../../../src/domain/time';

const T = (iso: string) => Date.parse(iso);
const iso = (pairs: Array<[number, number]>) =>
  pairs.map(([a, b]) => `${new Date(a).toISOString()}/${new Date(b).toISOString()}`);

describe('UTC buckets', () => {
  it('gives every month overlapping a range across a year edge, including a leap February', () => {
    expect(iso(bucketsOverlapping('MONTH', T('2023-12-15T00:00Z'), T('2024-03-01T00:00Z')))).toEqual([
      '2023-12-01T00:00:00.000Z/2024-01-01T00:00:00.000Z',
      '2024-01-01T00:00:00.000Z/2024-02-01T00:00:00.000Z',
      '2024-02-01T00:00:00.000Z/2024-03-01T00:00:00.000Z',
    ]);
  });

  it('gives whole years and days, half-open at the end', () => {
    expect(iso(bucketsOverlapping('YEAR', T('2024-12-31T23:00Z'), T('2025-01-01T00:00:00.001Z')))).toEqual([
      '2024-01-01T00:00:00.000Z/2025-01-01T00:00:00.000Z',
      '2025-01-01T00:00:00.000Z/2026-01-01T00:00:00.000Z',
    ]);
    expect(daysOverlapping(T('2024-02-28T12:00Z'), T('2024-03-01T00:00Z'))).toEqual([
      '2024-02-28',
      '2024-02-29',
    ]);
    expect(monthsOverlapping(T('2025-12-31T23:00Z'), T('2026-01-01T01:00Z'))).toEqual(['2025-12', '2026-01']);
  });

  it('counts hours that overlap a range, including a partial first hour', () => {
    expect(hoursOverlapping(T('2025-01-01T10:30Z'), T('2025-01-01T12:00Z')).map((h) => hourLabel(h))).toEqual(
      ['10:00', '11:00'],
    );
    expect(hoursOverlapping(T('2025-01-01T10:00Z'), T('2025-01-01T10:00Z'))).toEqual([]);
  });

  it('names days in ISO and in the seed format, in UTC', () => {
    expect(utcDate(T('2025-09-21T23:59:59.999Z'))).toBe('2025-09-21');
    expect(seedDate('2025-09-21')).toBe('21_09_2025');
    expect(periodStart('2024-02')).toBe(T('2024-02-01T00:00Z'));
    expect(periodStart('2024')).toBe(T('2024-01-01T00:00Z'));
  });
});
