import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';

/** Headers every answer carries: nothing we serve is meant to be sniffed, framed or leak a referrer. */
export const BASE_HEADERS: OutgoingHttpHeaders = {
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
};

export function sendText(
  res: ServerResponse,
  status: number,
  text: string,
  headers: OutgoingHttpHeaders = {},
): void {
  res.writeHead(status, {
    ...BASE_HEADERS,
    'content-type': 'text/plain; charset=utf-8',
    'cache-control': 'no-store',
    ...headers,
  });
  res.end(text);
}

/** A GraphQL-shaped error body, so GraphQL clients can show what went wrong before Apollo ran. */
export function sendGraphQLError(res: ServerResponse, status: number, code: string, message: string): void {
  res.writeHead(status, {
    ...BASE_HEADERS,
    'content-type': 'application/json; charset=utf-8',
    'cache-control': 'no-store',
  });
  res.end(JSON.stringify({ errors: [{ message, extensions: { code } }] }));
}

export class PayloadTooLargeError extends Error {
  constructor(readonly limitBytes: number) {
    super(`request body larger than ${limitBytes} bytes`);
    this.name = 'PayloadTooLargeError';
  }
}

/**
 * Reads the whole request body, refusing more than `limitBytes`: an announced length is refused
 * before reading, a streamed one as soon as it goes over.
 */
export function readBody(req: IncomingMessage, limitBytes: number): Promise<Buffer> {
  const announced = Number(req.headers['content-length']);
  if (announced > limitBytes) return Promise.reject(new PayloadTooLargeError(limitBytes));
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let received = 0;
    const onData = (chunk: Buffer) => {
      received += chunk.length;
      if (received > limitBytes) {
        req.off('data', onData);
        reject(new PayloadTooLargeError(limitBytes));
        return;
      }
      chunks.push(chunk);
    };
    req.on('data', onData);
    req.once('end', () => resolve(Buffer.concat(chunks)));
    req.once('error', reject);
  });
}

/** Characters handed to the socket at a time; the next chunk waits until the client took this one. */
const ANSWER_CHUNK_CHARS = 64 * 1024;

/**
 * Sends `body` and ends the response, a chunk at a time as the client takes them, so that a
 * client that reads slowly or not at all holds a chunk in our buffers, not a copy of the whole
 * answer. Resolves once the response has finished or closed; one not finished within `timeoutMs`
 * has its connection closed, which gives back what it held.
 */
export async function sendBody(res: ServerResponse, body: string, timeoutMs: number): Promise<void> {
  const deadline = setTimeout(() => res.destroy(), timeoutMs);
  try {
    let at = 0;
    while (at < body.length && !res.destroyed) {
      let end = Math.min(body.length, at + ANSWER_CHUNK_CHARS);
      // Never between the halves of a surrogate pair: each half alone would be sent as U+FFFD.
      if (end < body.length && isHighSurrogate(body.charCodeAt(end - 1))) end--;
      const more = res.write(body.slice(at, end));
      at = end;
      if (!more) await whenEmitted(res, 'drain');
    }
    if (res.destroyed) return;
    res.end();
    if (!res.writableFinished) await whenEmitted(res, 'finish');
  } finally {
    clearTimeout(deadline);
  }
}

function isHighSurrogate(code: number): boolean {
  return code >= 0xd800 && code <= 0xdbff;
}

/** Resolves on `event`, or on the response closing first. */
function whenEmitted(res: ServerResponse, event: 'drain' | 'finish'): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      res.off(event, done);
      res.off('close', done);
      resolve();
    };
    res.on(event, done);
    res.on('close', done);
  });
}
