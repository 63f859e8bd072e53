import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import nodemailer from 'nodemailer';
import type { SummaryEmailConfig } from '../../config';
import { DAY_MS, periodStart, utcDate } from '../../domain/time';
import { errorFields, type Logger } from '../../log';
import type { DailySummaryStore, SummaryEmailLog, SummarySubscribers } from '../../store/summaries';
import { summaryMessage } from './message';

/** Sends one message; rejects when the server did not take it. */
export interface Mailer {
  send(message: {
    from: string;
    to: string;
    subject: string;
    text: string;
    html: string;
    messageId: string;
  }): Promise<void>;
  close(): void;
}

/** A mailer over `summaries.email.smtp`: one pooled connection, every step bounded by `timeoutMs`. */
export function smtpMailer(config: Pick<SummaryEmailConfig, 'smtp' | 'timeoutMs'>): Mailer {
  const transport = nodemailer.createTransport(config.smtp, {
    connectionTimeout: config.timeoutMs,
    greetingTimeout: config.timeoutMs,
    socketTimeout: config.timeoutMs,
  });
  return {
    async send(message) {
      await transport.sendMail(message);
    },
    close: () => transport.close(),
  };
}

export interface SummaryEmailDeps {
  summaries: Pick<DailySummaryStore, 'read'>;
  emails: SummaryEmailLog;
  subscribers: Pick<SummarySubscribers, 'list'>;
  mailer: Mailer;
  log: Logger;
  signal?: AbortSignal;
}

export interface EmailReport {
  sent: string[];
  /** Sent before, or being sent by another process now. */
  alreadySent: string[];
  /** Had no summary of the day (no usage): nothing to send. */
  noSummary: string[];
  failed: Array<{ user: string; error: string }>;
}

/** This process, as the claims name it. */
const HOLDER = `${hostname()}/${process.pid}/${randomBytes(3).toString('hex')}`;

/**
 * Every listed user: the config's, then those who listed themselves, sorted by user. A user's own
 * choice wins: their address over the config's, and their opt-out (null) over its listing.
 */
export async function listedUsers(
  config: Pick<SummaryEmailConfig, 'users'>,
  subscribers: Pick<SummarySubscribers, 'list'>,
): Promise<Array<[string, string]>> {
  const addresses = new Map(Object.entries(config.users));
  for (const [user, address] of await subscribers.list()) {
    if (address === null) addresses.delete(user);
    else addresses.set(user, address);
  }
  return [...addresses].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}

/**
 * Sends `date`'s summary to each of `users` not yet sent it, once across every process: each is
 * claimed in the store before it is sent and marked sent (or failed) after, so a claim another
 * process holds, or a day already sent, is left alone, and a failed send is claimed again later.
 */
export async function sendSummaries(
  deps: SummaryEmailDeps,
  config: Pick<SummaryEmailConfig, 'from' | 'dashboardUrl' | 'timeoutMs'>,
  date: string,
  users: ReadonlyArray<[string, string]>,
): Promise<EmailReport> {
  const report: EmailReport = { sent: [], alreadySent: [], noSummary: [], failed: [] };
  const next = utcDate(periodStart(date) + DAY_MS);
  // Past this a claim's holder is taken for dead: well beyond a send's own bound.
  const leaseMs = 2 * config.timeoutMs + 60_000;
  for (const [user, address] of users) {
    deps.signal?.throwIfAborted();
    const [summary] = await deps.summaries.read(user, date, next);
    if (summary === undefined) {
      report.noSummary.push(user);
      continue;
    }
    const claim = await deps.emails.claim(user, date, HOLDER, leaseMs);
    if (claim === null) {
      report.alreadySent.push(user);
      continue;
    }
    try {
      await deps.mailer.send({
        from: config.from,
        to: address,
        messageId: summaryMessageId(user, date, config.from),
        ...summaryMessage(summary, config.dashboardUrl),
      });
    } catch (err) {
      const error = err instanceof Error ? err.message : String(err);
      deps.log.warn('summary email not sent; retried by the next run', { user, date, ...errorFields(err) });
      await deps.emails.markFailed(claim, error);
      report.failed.push({ user, error });
      continue;
    }
    await deps.emails.markSent(claim, address);
    report.sent.push(user);
  }
  return report;
}

/**
 * The same Message-ID for every send of one user's day. A sender killed after the server took the
 * message but before the store heard of it sends it again once its claim lapses (nothing can tell
 * that crash from one before the send); mail systems that drop a Message-ID they already hold
 * (RFC 5322 makes it the message's identity) then keep one copy.
 */
export function summaryMessageId(user: string, date: string, from: string): string {
  const domain = from.slice(from.lastIndexOf('@') + 1).replace(/[^A-Za-z0-9.-]/g, '') || 'carbonledger';
  return `<carbonledger-summary.${date}.${Buffer.from(user).toString('hex')}@${domain}>`;
}

/**
 * The days a run sends: yesterday, and each of the `lookbackDays` before it whose send to some
 * listed user was claimed but not completed (failed, or its holder died).
 */
export async function daysToSend(
  emails: Pick<SummaryEmailLog, 'status'>,
  users: ReadonlyArray<[string, string]>,
  now: number,
  lookbackDays: number,
): Promise<string[]> {
  const yesterday = periodStart(utcDate(now - DAY_MS));
  const days: string[] = [];
  for (let day = yesterday - lookbackDays * DAY_MS; day < yesterday; day += DAY_MS) {
    const date = utcDate(day);
    const states = await Promise.all(users.map(([user]) => emails.status(user, date)));
    if (states.some((status) => status !== null && status.state !== 'sent')) days.push(date);
  }
  return [...days, utcDate(yesterday)];
}
