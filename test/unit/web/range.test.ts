import {
  DEFAULT_SELECTION,
  granularityOf,
  heatmapSpan,
  rangeProblem,
  readSelection,
  spanOf,
  writeSelection,
  type Selection,
} from '../../../web/src/range';

const NOW = Date.parse('2026-11-27T14:35:00Z');
const selection = (change: Partial<Selection>): Selection => ({
  ...DEFAULT_SELECTION,
  key: 'IDAaaS',
  ...change,
});

describe('what the dashboard asks for', () => {
  it('ends a preset at the current whole hour and starts it at midnight UTC', () => {
    expect(spanOf(selection({ range: '7d' }), NOW)).toEqual({
      from: '2026-11-21T00:00:00.000Z',
      to: '2026-11-27T14:00:00.000Z',
      days: 7,
    });
  });

  it('reads a custom range as whole UTC days, the last one included', () => {
    const span = spanOf(selection({ range: 'custom', from: '2026-10-01', to: '2026-10-31' }), NOW);
    expect(span).toEqual({ from: '2026-10-01T00:00:00.000Z', to: '2026-11-01T00:00:00.000Z', days: 31 });
    expect(rangeProblem(selection({ range: 'custom', from: '2026-10-31', to: '2026-10-01' }))).toMatch(
      /after/,
    );
    expect(rangeProblem(selection({ range: 'custom', from: '', to: '2026-10-01' }))).toMatch(/both/);
  });

  it('buckets by hour up to a week, by day up to a year, by month beyond, and never asks for too many hours', () => {
    const granularity = (range: Selection['range'], chosen: Selection['granularity'] = 'auto') => {
      const s = selection({ range, granularity: chosen });
      return granularityOf(s, spanOf(s, NOW));
    };
    expect([granularity('7d'), granularity('30d'), granularity('365d'), granularity('730d')]).toEqual([
      'HOUR',
      'DAY',
      'DAY',
      'MONTH',
    ]);
    expect(granularity('365d', 'HOUR')).toBe('HOUR');
    expect(granularity('730d', 'HOUR')).toBe('DAY');
    const twoYears = spanOf(selection({ range: '730d' }), NOW);
    expect(heatmapSpan(twoYears)).toEqual({ from: '2025-11-26T14:00:00.000Z', to: twoYears.to, days: 366 });
  });

  it('keeps the selection, and only the selection, in the URL hash', () => {
    const chosen = selection({
      level: 'USER',
      key: 'a&b=c',
      range: 'custom',
      from: '2026-01-01',
      to: '2026-01-31',
    });
    const hash = writeSelection(chosen);
    expect(readSelection(hash)).toEqual(chosen);
    expect(readSelection('#level=NOPE&range=1y&granularity=WEEK')).toEqual({ ...DEFAULT_SELECTION });
  });
});
