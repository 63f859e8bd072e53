import { filesToRead, planReads } from '../../../src/services/read-plan';
import { at } from '../../support/usage-store';

const piece = (kind: string, period: string, start: string, end: string) => ({
  kind,
  period,
  start: at(start),
  end: at(end),
});

describe('planReads', () => {
  it('reads a whole year from its roll-up, whole months from the year roll-up, whole days from month roll-ups and only partial days from day entries', () => {
    expect(planReads(at('2024-12-31T22:00:00Z'), at('2026-02-02T03:00:00Z'))).toEqual([
      piece('hours', '2024-12-31', '2024-12-31T22:00:00Z', '2025-01-01T00:00:00Z'),
      piece('year', '2025', '2025-01-01T00:00:00Z', '2026-01-01T00:00:00Z'),
      piece('month', '2026-01', '2026-01-01T00:00:00Z', '2026-02-01T00:00:00Z'),
      piece('day', '2026-02-01', '2026-02-01T00:00:00Z', '2026-02-02T00:00:00Z'),
      piece('hours', '2026-02-02', '2026-02-02T00:00:00Z', '2026-02-02T03:00:00Z'),
    ]);
  });

  it('uses days of a month when the month is not whole, and the month when it is', () => {
    expect(planReads(at('2025-01-30T00:00:00Z'), at('2025-03-02T00:00:00Z'))).toEqual([
      piece('day', '2025-01-30', '2025-01-30T00:00:00Z', '2025-01-31T00:00:00Z'),
      piece('day', '2025-01-31', '2025-01-31T00:00:00Z', '2025-02-01T00:00:00Z'),
      piece('month', '2025-02', '2025-02-01T00:00:00Z', '2025-03-01T00:00:00Z'),
      piece('day', '2025-03-01', '2025-03-01T00:00:00Z', '2025-03-02T00:00:00Z'),
    ]);
  });

  it('splits a range that crosses midnight into the hours of each day', () => {
    expect(planReads(at('2025-09-21T22:00:00Z'), at('2025-09-22T02:00:00Z'))).toEqual([
      piece('hours', '2025-09-21', '2025-09-21T22:00:00Z', '2025-09-22T00:00:00Z'),
      piece('hours', '2025-09-22', '2025-09-22T00:00:00Z', '2025-09-22T02:00:00Z'),
    ]);
  });

  it('plans one hour as the hours of its day', () => {
    expect(planReads(at('2025-09-21T10:00:00Z'), at('2025-09-21T11:00:00Z'))).toEqual([
      piece('hours', '2025-09-21', '2025-09-21T10:00:00Z', '2025-09-21T11:00:00Z'),
    ]);
  });

  it('plans a leap day as a whole day and February 2024 as a whole month', () => {
    expect(planReads(at('2024-02-29T00:00:00Z'), at('2024-03-01T00:00:00Z'))).toEqual([
      piece('day', '2024-02-29', '2024-02-29T00:00:00Z', '2024-03-01T00:00:00Z'),
    ]);
    expect(planReads(at('2024-02-01T00:00:00Z'), at('2024-03-01T00:00:00Z'))).toEqual([
      piece('month', '2024-02', '2024-02-01T00:00:00Z', '2024-03-01T00:00:00Z'),
    ]);
  });
});

describe('filesToRead', () => {
  it('names each year roll-up, month roll-up and day entry once', () => {
    const pieces = [
      ...planReads(at('2024-12-31T22:00:00Z'), at('2026-02-02T03:00:00Z')),
      ...planReads(at('2026-02-01T00:00:00Z'), at('2026-02-02T05:00:00Z')),
    ];
    expect(filesToRead(pieces)).toEqual({
      years: ['2025', '2026'],
      months: ['2026-02'],
      days: ['2024-12-31', '2026-02-02'],
    });
  });
});
