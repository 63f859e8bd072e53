import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { listNames, readTextIfExists, writeFileAtomic } from '../../fs/files';
import type { EmailClaim, EmailStatus, SummaryEmailLog } from '../summaries';
import { checkedDate, encodeKey } from './layout';
import { createExclusive } from './lock';

const AttemptSchema = z.object({
  holder: z.string(),
  claimedAt: z.string(),
  /** Epoch ms. */
  expiresAt: z.number(),
  state: z.enum(['claimed', 'sent', 'failed']),
  sentAt: z.string().nullable(),
  address: z.string().nullable(),
  error: z.string().nullable(),
});
type Attempt = z.infer<typeof AttemptSchema>;

const ATTEMPT_FILE = /^attempt-(\d+)\.json$/;

/**
 * The summary emails as files: `<dataDir>/summaries/email/<user>/<YYYY-MM-DD>/attempt-<n>.json`,
 * one a claim. A claim is the exclusive creation of the next attempt's file (a hard link, which
 * only one process can win, on this host or any sharing the directory), allowed only when the
 * latest attempt failed or its holder fell silent past its lease; its holder alone rewrites it,
 * atomically, as sent or failed.
 */
export function jsonSummaryEmailLog(dataDir: string, now: () => number = Date.now): SummaryEmailLog {
  const dirOf = (user: string, date: string) =>
    join(dataDir, 'summaries', 'email', encodeKey(user), checkedDate(date));
  const fileOf = (claim: EmailClaim) => join(dirOf(claim.user, claim.date), `attempt-${claim.attempt}.json`);

  const attempts = async (user: string, date: string): Promise<Array<{ n: number; attempt: Attempt }>> => {
    const dir = dirOf(user, date);
    const numbers = (await listNames(dir, 'file'))
      .map((name) => ATTEMPT_FILE.exec(name)?.[1])
      .filter((n): n is string => n !== undefined)
      .map(Number)
      .sort((a, b) => a - b);
    const read = await Promise.all(numbers.map((n) => readAttempt(join(dir, `attempt-${n}.json`))));
    return numbers.map((n, i) => ({ n, attempt: read[i] }));
  };

  const update = async (claim: EmailClaim, change: Partial<Attempt>) => {
    const current = await readAttempt(fileOf(claim));
    await writeFileAtomic(fileOf(claim), `${JSON.stringify({ ...current, ...change })}\n`);
  };

  return {
    async claim(user, date, holder, leaseMs) {
      const all = await attempts(user, date);
      if (all.some(({ attempt }) => attempt.state === 'sent')) return null;
      const latest = all.at(-1);
      if (latest?.attempt.state === 'claimed' && latest.attempt.expiresAt > now()) return null;
      const claim: EmailClaim = { user, date, attempt: (latest?.n ?? 0) + 1 };
      const attempt: Attempt = {
        holder,
        claimedAt: new Date(now()).toISOString(),
        expiresAt: now() + leaseMs,
        state: 'claimed',
        sentAt: null,
        address: null,
        error: null,
      };
      await mkdir(dirOf(user, date), { recursive: true });
      return (await createExclusive(fileOf(claim), `${JSON.stringify(attempt)}\n`)) ? claim : null;
    },
    markSent: (claim, address) =>
      update(claim, { state: 'sent', sentAt: new Date(now()).toISOString(), address }),
    markFailed: (claim, error) => update(claim, { state: 'failed', error }),
    async status(user, date): Promise<EmailStatus | null> {
      const all = await attempts(user, date);
      if (all.length === 0) return null;
      const sent = all.find(({ attempt }) => attempt.state === 'sent');
      const { attempt } = sent ?? all[all.length - 1];
      return { state: attempt.state, attempts: all.length, sentAt: attempt.sentAt, error: attempt.error };
    },
  };
}

async function readAttempt(file: string): Promise<Attempt> {
  const text = await readTextIfExists(file);
  if (text === null) throw new Error(`${file} is missing`);
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    raw = undefined;
  }
  const result = AttemptSchema.safeParse(raw);
  if (!result.success) throw new Error(`${file} is damaged: ${result.error.message}`);
  return result.data;
}
