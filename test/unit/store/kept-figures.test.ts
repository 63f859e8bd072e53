import type { HourOutcome, LedgerHour } from '../../../src/domain/usage';
import { seriesVanished } from '../../../src/store/kept-figures';
import { STATIC_INTENSITY } from '../../support/describe-store';

const stored = (
  instanceHours: Record<string, number>,
  sampledHours?: Record<string, number>,
): LedgerHour => ({
  status: 'ok',
  intensity: STATIC_INTENSITY,
  instanceHours,
  ...(sampledHours && { sampledHours }),
});
const answer = (
  instanceHours: Record<string, number>,
  sampledHours?: Record<string, number>,
): HourOutcome => ({
  hour: 0,
  status: 'ok',
  intensity: STATIC_INTENSITY,
  instanceHours,
  ...(sampledHours && { sampledHours }),
});

describe('seriesVanished', () => {
  it('lets an answer that saw as much or more replace the hour, sampled hours within a rounding error', () => {
    expect(seriesVanished(stored({ a: 2 }), answer({ a: 2 }))).toBeUndefined();
    expect(seriesVanished(stored({ a: 2 }, { a: 1.5 }), answer({ a: 3 }, { a: 1.9 }))).toBeUndefined();
    expect(seriesVanished(stored({ a: 2 }, { a: 0.1 + 0.2 }), answer({ a: 2 }, { a: 0.3 }))).toBeUndefined();
    // Nothing stored ok yet, or a failure: nothing to keep here.
    expect(seriesVanished(undefined, answer({}))).toBeUndefined();
    expect(seriesVanished(stored({ a: 2 }), { hour: 0, status: 'failed', error: 'down' })).toBeUndefined();
  });

  it('keeps the hour when the answer has fewer instance-hours, or as many sampled for less time', () => {
    expect(seriesVanished(stored({ a: 2 }), answer({ a: 1 }))).toMatch(
      /^the source answered with fewer series than the stored figures hold \(instance-hours: 1 of 2 "a"\);.*--replace/,
    );
    expect(seriesVanished(stored({ a: 2 }, { a: 1.5 }), answer({ a: 2 }, { a: 0.5 }))).toMatch(
      /^the source answered with fewer samples than the stored figures hold \(sampled hours: 0\.500 of 1\.500 "a"\)/,
    );
    // A machine type with samples no longer sampled at all, or a source that no longer says.
    expect(seriesVanished(stored({ a: 1, b: 1 }, { b: 1 }), answer({ a: 1, b: 1 }))).toMatch(
      /sampled hours: 0\.000 of 1\.000 "b"/,
    );
    expect(seriesVanished(stored({ a: 1, b: 1, c: 1, d: 1 }, { a: 1 }), answer({ b: 1 }, { a: 0 }))).toMatch(
      /fewer series and samples .*\(instance-hours: 0 of 1 "a", instance-hours: 0 of 1 "c", instance-hours: 0 of 1 "d" and 1 more\)/,
    );
  });

  it('judges a stored hour without sampled hours (another source, an older ledger) by its instance-hours', () => {
    expect(seriesVanished(stored({ a: 2 }), answer({ a: 2 }, { a: 0.2 }))).toBeUndefined();
  });
});
