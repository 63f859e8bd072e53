import { redactCredentials, redactSecret } from '../../domain/redact';
import type { DeliveryStatus } from '../../store/deliveries';
import type { UsageReportBody } from './report';

/** How much of an answer's body is kept. */
const ANSWER_CHARS = 300;
/**
 * How much of an answer's body is read at most: enough for any error PERSEUS explains; the rest
 * of a larger answer is cancelled, so a huge or endless answer costs no memory.
 */
export const ANSWER_READ_BYTES = 64 * 1024;

export interface PostOutcome {
  status: DeliveryStatus;
  httpStatus: number | null;
  answer: string;
}

export interface PerseusClientOptions {
  url: string;
  token: string;
  timeoutMs: number;
  fetch?: typeof fetch;
}

/**
 * Why a request got no answer: fetch's "fetch failed" says nothing, its cause says what (connect
 * ECONNREFUSED, a TLS error). Not `instanceof Error`: fetch's errors may come from another realm.
 */
function failureOf(err: unknown): string {
  if (typeof err !== 'object' || err === null) return String(err);
  const { message, cause } = err as { message?: unknown; cause?: { message?: unknown } };
  if (typeof cause?.message === 'string' && cause.message !== '') return cause.message;
  return typeof message === 'string' ? message : String(err);
}

/**
 * 401 and 403 say the token is wrong; 408, 429 and 5xx say try later; other 4xx say no, and so
 * does a 3xx: a redirect is not followed (see postUsageReport), so nothing was taken.
 */
function statusOf(httpStatus: number): DeliveryStatus {
  if (httpStatus >= 200 && httpStatus < 300) return 'accepted';
  if (httpStatus === 401 || httpStatus === 403) return 'unauthorized';
  if (httpStatus === 408 || httpStatus === 429 || httpStatus >= 500) return 'unreachable';
  return 'refused';
}

/** The first `ANSWER_READ_BYTES` of a body as text; the rest is cancelled unread. */
async function boundedText(response: Response): Promise<string> {
  const reader = response.body?.getReader();
  if (reader === undefined) return '';
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    while (size < ANSWER_READ_BYTES) {
      const { done, value } = await reader.read();
      if (done) break;
      chunks.push(value);
      size += value.byteLength;
    }
  } finally {
    await reader.cancel().catch(() => undefined);
  }
  return Buffer.concat(chunks).subarray(0, ANSWER_READ_BYTES).toString('utf8');
}

/** A redirect's answer: the body of a 3xx says nothing PERSEUS took. */
const REDIRECT_ANSWER = 'a redirect, not followed: usage reports go to sinks.perseus.url only';

/**
 * Posts one usage report to `{url}/service/UsageReporting/{project_oid}` with the bearer token. It
 * never throws for what PERSEUS answers or for a network failure: those are outcomes to record.
 * The token goes in the header only, never into an outcome or a log line. A redirect is not followed
 * and counts as refused; at most ANSWER_READ_BYTES of an answer are read.
 */
export async function postUsageReport(
  options: PerseusClientOptions,
  body: UsageReportBody,
  signal?: AbortSignal,
): Promise<PostOutcome> {
  const url = `${options.url.replace(/\/+$/, '')}/service/UsageReporting/${encodeURIComponent(body.project_oid)}`;
  const timeout = AbortSignal.timeout(options.timeoutMs);
  try {
    const response = await (options.fetch ?? fetch)(url, {
      method: 'POST',
      headers: { authorization: `Bearer ${options.token}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
      // A redirect could carry the report and the token to another host, or turn the POST into a
      // GET whose 200 would look accepted: the answer is taken as it is.
      redirect: 'manual',
      signal: signal ? AbortSignal.any([signal, timeout]) : timeout,
    });
    const redirected = response.status >= 300 && response.status < 400;
    const text = redirected ? REDIRECT_ANSWER : await boundedText(response).catch(() => '');
    if (redirected) await response.body?.cancel().catch(() => undefined);
    return {
      status: statusOf(response.status),
      httpStatus: response.status,
      // A server may echo what it refused (the header, the token): the answer is kept and logged.
      answer: redactCredentials(redactSecret(text, options.token)).slice(0, ANSWER_CHARS),
    };
  } catch (err) {
    signal?.throwIfAborted();
    const reason = timeout.aborted ? `no answer within ${options.timeoutMs} ms` : failureOf(err);
    // fetch's messages may quote the URL: neither its password nor the token is recorded.
    return {
      status: 'unreachable',
      httpStatus: null,
      answer: redactCredentials(redactSecret(reason, options.token)),
    };
  }
}
