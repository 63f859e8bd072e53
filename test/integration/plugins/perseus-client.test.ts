import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ANSWER_READ_BYTES, postUsageReport } from '../../../src/plugins/perseus/client';
import type { UsageReportBody } from '../../../src/plugins/perseus/report';

const TOKEN = 'secret-token-77aa';
const BODY: UsageReportBody = {
  project_oid: 'oid-1',
  compute_project_id: 'P',
  resource_id: 'cloud',
  start: '2025-03-10T00:00:00.000Z',
  end: '2025-03-11T00:00:00.000Z',
  value: 3,
  usage: 3,
  contingent_factor: 1,
  additional_metrics: [],
  additional_data: {},
};

interface Seen {
  method: string;
  path: string;
  authorization: string | undefined;
  body: string;
}

const servers: Server[] = [];
afterEach(async () => {
  for (const server of servers.splice(0))
    await new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
});

/** A server answering with `handle`, recording every request it received in full. */
async function serve(handle: (req: IncomingMessage, res: ServerResponse) => void) {
  const seen: Seen[] = [];
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk) => (body += chunk));
    req.on('end', () => {
      seen.push({
        method: req.method ?? '',
        path: req.url ?? '',
        authorization: req.headers.authorization,
        body,
      });
      handle(req, res);
    });
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, seen };
}

const post = (url: string) => postUsageReport({ url, token: TOKEN, timeoutMs: 60_000 }, BODY);

describe('the PERSEUS client', () => {
  it.each([301, 302, 303, 307, 308])(
    'does not follow a %i to another host: the report is not accepted and the other host gets nothing',
    async (status) => {
      const elsewhere = await serve((_req, res) => res.writeHead(200).end('{"ok":true}'));
      const perseus = await serve((_req, res) =>
        res.writeHead(status, { location: `${elsewhere.url}/service/UsageReporting/oid-1` }).end(),
      );
      const outcome = await post(perseus.url);
      expect(outcome).toMatchObject({ status: 'refused', httpStatus: status });
      expect(outcome.answer).toMatch(/redirect, not followed/);
      expect(perseus.seen).toHaveLength(1);
      expect(elsewhere.seen).toEqual([]);
    },
  );

  it('keeps no form of the token a server echoes, whatever its case', async () => {
    const perseus = await serve((req, res) => {
      const token = String(req.headers.authorization).replace(/^Bearer /, '');
      res.writeHead(401).end(`bad credential ${token} / ${token.toUpperCase()} / Secret-Token-77AA`);
    });
    const outcome = await post(perseus.url);
    expect(outcome).toMatchObject({ status: 'unauthorized', httpStatus: 401 });
    expect(outcome.answer).toBe('bad credential *** / *** / ***');
  });

  it('keeps no form of the token in why no answer came', async () => {
    const failing: typeof fetch = async () => {
      throw new TypeError('fetch failed', { cause: new Error(`refused for ${TOKEN.toUpperCase()}`) });
    };
    const outcome = await postUsageReport(
      { url: 'http://127.0.0.1:9', token: TOKEN, timeoutMs: 60_000, fetch: failing },
      BODY,
    );
    expect(outcome).toEqual({ status: 'unreachable', httpStatus: null, answer: 'refused for ***' });
  });

  it('reads a bounded part of a huge answer and cancels the rest', async () => {
    let written = 0;
    let closed = false;
    const chunk = Buffer.alloc(64 * 1024, 'x');
    // An endless answer: it is read only as far as the bound, or the client would never return.
    const perseus = await serve((_req, res) => {
      res.writeHead(500, { 'content-type': 'text/plain' });
      res.on('close', () => (closed = true));
      const pump = () => {
        while (!closed && res.write(chunk)) written += chunk.length;
        if (!closed) res.once('drain', pump);
      };
      pump();
    });
    const outcome = await post(perseus.url);
    expect(outcome).toMatchObject({ status: 'unreachable', httpStatus: 500 });
    expect(outcome.answer).toMatch(/^x+$/);
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(closed).toBe(true);
    // What was sent before the cancel reached the client: socket buffers, far below an endless body.
    expect(written).toBeLessThan(ANSWER_READ_BYTES + 64 * 1024 * 1024);
  });
});
