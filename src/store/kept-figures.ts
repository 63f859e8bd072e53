import { ownValue } from '../domain/own';
import type { HourOutcome, LedgerHour } from '../domain/usage';

/** An ok hour whose stored figures a batch left as they were, and why. */
export interface KeptHour {
  hour: number;
  reason: string;
}

/**
 * Sampled hours are sums of fractions of an hour: an answer within this of the stored sum (well
 * under a millisecond an instance) measured as much; only pruning takes away more.
 */
const SAMPLED_TOLERANCE = 1e-6;

/** The machine types, sorted, whose `answered` figure falls short of the `stored` one, named. */
function shortfalls(
  stored: Record<string, number> | undefined,
  answered: Record<string, number> | undefined,
  slack: number,
  show: (value: number) => string = String,
): string[] {
  return Object.entries(stored ?? {})
    .filter(([machine, held]) => (ownValue(answered ?? {}, machine) ?? 0) < held - slack)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(
      ([machine, held]) =>
        `${show(ownValue(answered ?? {}, machine) ?? 0)} of ${show(held)} ${JSON.stringify(machine)}`,
    );
}

/**
 * Why an ok hour's stored figures must stay although a new ok answer would replace them, or
 * undefined when the answer may replace them. The ledger counts the instance-hours behind an ok
 * hour's figures by machine type, and, for a source that holds samples between readings
 * (OpenNebula), the hours those samples held. An answer with fewer instance-hours for any machine
 * type lost series (a Prometheus restarted without its data, a fresh replica); one with fewer
 * sampled hours was measured from less (OpenNebula pruned its old samples but still knows the VMs
 * ran). Replacing the hour with either would remove or lower good figures. A re-ingest is trusted
 * only when it sees at least what was seen: every backend plans its batches through this one rule,
 * and only an explicit replacement (`ingest --replace`) overrides it. A stored hour without sampled
 * hours (a source that has none, or a ledger written before they were kept) is judged by its
 * instance-hours alone.
 */
export function seriesVanished(previous: LedgerHour | undefined, outcome: HourOutcome): string | undefined {
  if (previous?.status !== 'ok' || outcome.status !== 'ok') return undefined;
  const series = shortfalls(previous.instanceHours, outcome.instanceHours, 0);
  const samples = shortfalls(previous.sampledHours, outcome.sampledHours, SAMPLED_TOLERANCE, (hours) =>
    hours.toFixed(3),
  );
  if (series.length === 0 && samples.length === 0) return undefined;
  const lost = [
    ...series.map((shortfall) => `instance-hours: ${shortfall}`),
    ...samples.map((shortfall) => `sampled hours: ${shortfall}`),
  ];
  const fewer = [series.length > 0 && 'series', samples.length > 0 && 'samples']
    .filter(Boolean)
    .join(' and ');
  const more = lost.length > 3 ? ` and ${lost.length - 3} more` : '';
  return (
    `the source answered with fewer ${fewer} than the stored figures hold (${lost.slice(0, 3).join(', ')}${more}); ` +
    'the stored figures are kept (`carbonledger ingest --replace` replaces them)'
  );
}
