import type { HourOutcome, LedgerHour } from '../../domain/usage';

/** The ledger's record of an hour after one more attempt at it. */
export function nextLedgerHour(
  previous: LedgerHour | undefined,
  outcome: HourOutcome,
  attemptedAt: number,
): LedgerHour {
  if (outcome.status === 'ok') {
    // A fresh success supersedes everything before it, so re-ingesting leaves the same record.
    const { intensity, instanceHours, sampledHours } = outcome;
    return { status: 'ok', intensity, instanceHours, ...(sampledHours !== undefined && { sampledHours }) };
  }
  if (previous?.status === 'ok') {
    return { ...previous, failedAttempts: (previous.failedAttempts ?? 0) + 1, lastError: outcome.error };
  }
  return {
    status: 'failed',
    attempts: (previous?.attempts ?? 0) + 1,
    error: outcome.error,
    lastAttemptAt: new Date(attemptedAt).toISOString(),
    ...(previous?.keepsFigures && { keepsFigures: true }),
  };
}
