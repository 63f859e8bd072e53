import { FAILED, type DayEntry } from '../../../../src/domain/usage';
import { mergeDay, monthRollup, sumHours, withUpdates, yearRollup } from '../../../../src/store/rules/merge';
import { NO_USAGE, figures, usage } from '../../../support/describe-store';

const identity = { level: 'PROJECT', key: 'alpha', date: '2025-09-21' } as const;

describe('sumHours', () => {
  it('sums every hour that did not fail, per machine', () => {
    expect(sumHours({ '03:00': usage(1), '04:00': FAILED, '05:00': usage(2, 'LARGE') })).toEqual({
      all: figures(3),
      byMachine: { SMALL: figures(1), LARGE: figures(2) },
    });
    expect(sumHours({ '04:00': FAILED })).toEqual(NO_USAGE);
  });
});

describe('mergeDay', () => {
  const existing: DayEntry = {
    ...identity,
    hours: { '03:00': usage(1), '04:00': FAILED, '05:00': usage(2) },
    totals: usage(3),
  };

  it('replaces or removes the buckets of ok hours, marks failed ones and leaves the rest', () => {
    const incoming: DayEntry = { ...identity, hours: { '04:00': usage(5) }, totals: usage(5) };
    expect(
      mergeDay(identity, existing, incoming, { replace: ['03:00', '04:00'], markFailed: ['06:00'] }),
    ).toEqual({
      ...identity,
      hours: { '04:00': usage(5), '05:00': usage(2), '06:00': FAILED },
      totals: usage(7),
    });
    expect(existing.hours).toEqual({ '03:00': usage(1), '04:00': FAILED, '05:00': usage(2) });
  });

  it('puts hours in time order', () => {
    const incoming: DayEntry = { ...identity, hours: { '00:00': usage(1) }, totals: usage(1) };
    const merged = mergeDay(identity, existing, incoming, { replace: ['00:00'], markFailed: [] });
    expect(Object.keys(merged!.hours)).toEqual(['00:00', '03:00', '04:00', '05:00']);
  });

  it('creates an entry holding only a failed marker for a key without one', () => {
    expect(mergeDay(identity, null, null, { replace: [], markFailed: ['06:00'] })).toEqual({
      ...identity,
      hours: { '06:00': FAILED },
      totals: NO_USAGE,
    });
  });

  it('leaves nothing when no hour remains', () => {
    expect(
      mergeDay(identity, existing, null, { replace: ['03:00', '04:00', '05:00'], markFailed: [] }),
    ).toBeNull();
    expect(mergeDay(identity, null, null, { replace: ['03:00'], markFailed: [] })).toBeNull();
  });
});

describe('withUpdates', () => {
  it('sets and removes names without touching the original', () => {
    const original = { a: 1, b: 2 };
    expect(
      withUpdates(
        original,
        new Map([
          ['a', null],
          ['c', 3],
        ]),
      ),
    ).toEqual({ b: 2, c: 3 });
    expect(original).toEqual({ a: 1, b: 2 });
  });
});

describe('roll-ups', () => {
  it('holds each day in date order and their sum', () => {
    const rollup = monthRollup('USER', 'alice', '2025-09', {
      '2025-09-22': usage(2, 'LARGE'),
      '2025-09-01': usage(1),
    });
    expect(rollup).toEqual({
      level: 'USER',
      key: 'alice',
      month: '2025-09',
      days: { '2025-09-01': usage(1), '2025-09-22': usage(2, 'LARGE') },
      totals: { all: figures(3), byMachine: { SMALL: figures(1), LARGE: figures(2) } },
    });
    expect(Object.keys(rollup!.days)).toEqual(['2025-09-01', '2025-09-22']);
  });

  it('holds each month and their sum', () => {
    expect(yearRollup('USER', 'alice', '2025', { '2025-12': usage(4), '2025-01': usage(1) })).toEqual({
      level: 'USER',
      key: 'alice',
      year: '2025',
      months: { '2025-01': usage(1), '2025-12': usage(4) },
      totals: usage(5),
    });
  });

  it('is nothing once empty', () => {
    expect(monthRollup('USER', 'alice', '2025-09', {})).toBeNull();
    expect(yearRollup('USER', 'alice', '2025', {})).toBeNull();
  });
});
