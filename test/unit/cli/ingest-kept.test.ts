import { writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { runCli } from '../../support/cli';
import { tempDirs } from '../../support/fake-ingest';
import { createTestDatabase, type TestDatabase } from '../../support/postgres';
import { labPrometheus, type SentRequest } from '../plugins/prometheus/fake-prometheus';

/**
 * `carbonledger ingest`'s summary line counts an ok answer whose hour kept its stored figures (an
 * answer with fewer series than stored) as kept, not as ok: nothing was written for it. On both
 * stores, as the rule that keeps it is every store's.
 */

const good = labPrometheus();
let emptied = false;
let server: Server;
let url: string;
const dirs = tempDirs('cl-ingest-kept-');
const databases: TestDatabase[] = [];

async function answer(req: IncomingMessage, res: ServerResponse): Promise<void> {
  let body = '';
  for await (const chunk of req) body += String(chunk);
  const form = new URLSearchParams(body);
  const request: SentRequest = {
    url: req.url ?? '',
    method: req.method ?? '',
    contentType: req.headers['content-type'] ?? '',
    query: form.get('query') ?? '',
    start: Number(form.get('start')),
    end: Number(form.get('end')),
    step: Number(form.get('step')),
  };
  res.writeHead(200, { 'content-type': 'application/json' });
  // A Prometheus restarted without its volume: it answers, and knows no series.
  res.end(
    emptied
      ? JSON.stringify({ status: 'success', data: { resultType: 'matrix', result: [] } })
      : await good(request).text(),
  );
}

beforeAll(async () => {
  server = createServer((req, res) => void answer(req, res));
  await new Promise<void>((listening) => server.listen(0, '127.0.0.1', () => listening()));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await new Promise((closed) => server.close(closed));
  await Promise.all(databases.map((db) => db.drop()));
  dirs.cleanup();
});

describe.each(['json', 'postgres'] as const)('the ingest summary line on the %s store', (kind) => {
  it('says how many hours kept their stored figures, and does not count them as ok', async () => {
    const dir = dirs.make();
    let store: Record<string, unknown> = { kind, dataDir: join(dir, 'data') };
    if (kind === 'postgres') {
      const db = await createTestDatabase();
      databases.push(db);
      store = { kind, url: db.url, dataDir: join(dir, 'local') };
    }
    const config = join(dir, 'config.json');
    writeFileSync(
      config,
      JSON.stringify({
        prometheus: { url, selector: 'job="node"', attempts: 1, chunkHours: 12 },
        carbon: { source: 'static', gPerKwh: 200 },
        store,
      }),
    );
    const ingest = () =>
      runCli([
        'ingest',
        '--from',
        '2025-09-21T00:00:00Z',
        '--to',
        '2025-09-21T05:00:00Z',
        '--config',
        config,
      ]);

    emptied = false;
    const first = await ingest();
    expect(first.code).toBe(0);
    expect(first.stderr).toContain('carbonledger ingest: 5 hours, 5 ok.\n');

    emptied = true;
    const again = await ingest();
    expect(again.code).toBe(0);
    expect(again.stderr).toContain(
      'carbonledger ingest: 5 hours, 0 ok, 5 kept (answered with fewer series or samples than stored: ' +
        'the stored figures stay, nothing written; see the log, --replace takes the answer); no data: ' +
        'in 5 of the hours answered ok',
    );
    expect(again.stderr).toContain('"keptHours":5');
  });
});
