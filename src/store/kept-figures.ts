import { ownValue } from '../domain/own';
import type { HourOutcome, LedgerHour } from '../domain/usage';

/** An ok hour whose stored figures a batch left as they were, and why. */
export interface KeptHour {
  hour: number;
  reason: string;
}

/**
 * Why an ok hour's stored figures must stay although a new ok answer would replace them, or
 * undefined when the answer may replace them. The ledger counts the instance-hours behind an ok
 * hour's figures by machine type; an answer with fewer for any machine type lost series (a
 * Prometheus restarted without its data, a fresh replica), and replacing the hour with it would
 * remove or lower good figures. A re-ingest is trusted only when it sees at least what was seen:
 * every backend plans its batches through this one rule, and only an explicit replacement
 * (`ingest --replace`) overrides it.
 */
export function seriesVanished(previous: LedgerHour | undefined, outcome: HourOutcome): string | undefined {
  if (previous?.status !== 'ok' || outcome.status !== 'ok') return undefined;
  const lost = Object.entries(previous.instanceHours)
    .filter(([machine, stored]) => (ownValue(outcome.instanceHours, machine) ?? 0) < stored)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  if (lost.length === 0) return undefined;
  const named = lost
    .slice(0, 3)
    .map(
      ([machine, stored]) =>
        `${ownValue(outcome.instanceHours, machine) ?? 0} of ${stored} ${JSON.stringify(machine)}`,
    )
    .join(', ');
  const more = lost.length > 3 ? ` and ${lost.length - 3} more machine types` : '';
  return (
    `the source answered with fewer series than the stored figures hold (instance-hours: ${named}${more}); ` +
    'the stored figures are kept (`carbonledger ingest --replace` replaces them)'
  );
}
