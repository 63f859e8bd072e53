import type { DailySummaryRecord } from '../domain/summaries';

/**
 * A store capability: each UTC day's summaries, one per user (contract section 11), and whether
 * the day was complete when they were made, so a day summarised early is summarised again.
 */
export interface DailySummaryStore {
  /**
   * Replaces every summary of `date` with `records` (each of that date) and records whether the
   * day was complete. Writing the same again changes nothing.
   */
  replaceDay(date: string, complete: boolean, records: readonly DailySummaryRecord[]): Promise<void>;
  /** The user's summaries of the dates in [fromDate, toDate) (`YYYY-MM-DD`), in date order. */
  read(user: string, fromDate: string, toDate: string): Promise<DailySummaryRecord[]>;
  /** Whether `date` was ever summarised (a day with no user's usage included). */
  isSummarised(date: string): Promise<boolean>;
  /** Every day summarised, in date order (for copying a store). */
  days(): Promise<string[]>;
  /** What `replaceDay` last wrote for `date`, users in order; null when it was never summarised. */
  readDay(date: string): Promise<SummaryDay | null>;
}

/** One day's summaries as stored. */
export interface SummaryDay {
  complete: boolean;
  records: DailySummaryRecord[];
}

/** One user's claim on sending one day's summary; `attempt` tells this claim from a later one. */
export interface EmailClaim {
  user: string;
  date: string;
  attempt: number;
}

/**
 * A store capability: the summary emails (contract section 11), each (user, day) sent at most once
 * across every process. A sender claims before it sends and marks the claim sent or failed after;
 * a failed one may be claimed again, and so may one whose holder fell silent past its lease.
 */
export interface SummaryEmailLog {
  /**
   * Claims (user, date) for `holder` until `leaseMs` from now. Null when it was sent already, or
   * another holder's claim is still within its lease.
   */
  claim(user: string, date: string, holder: string, leaseMs: number): Promise<EmailClaim | null>;
  /** Marks the claim sent (to `address`). */
  markSent(claim: EmailClaim, address: string): Promise<void>;
  /** Marks the claim failed with `error`: the next run claims it again. */
  markFailed(claim: EmailClaim, error: string): Promise<void>;
  /** What became of (user, date): null when nothing was ever claimed. */
  status(user: string, date: string): Promise<EmailStatus | null>;
}

export interface EmailStatus {
  state: 'claimed' | 'sent' | 'failed';
  attempts: number;
  /** ISO; set once sent. */
  sentAt: string | null;
  error: string | null;
}

/**
 * A store capability: users who chose for themselves (`setSummaryEmail`) to get their summaries by
 * email at an address, or to get none, even when the config lists them.
 */
export interface SummarySubscribers {
  /** Sets the user's address; null records that they stopped. */
  set(user: string, address: string | null): Promise<void>;
  /** Every user who chose, with their address, or null when they stopped. */
  list(): Promise<Map<string, string | null>>;
}
