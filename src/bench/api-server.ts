import { readFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { parseConfig } from '../config';
import { systemClock } from '../domain/clock';
import { silentLogger } from '../log';
import { createServiceMetrics } from '../metrics';
import { buildAppSchema, createRequestContext } from '../app-schema';
import { startService } from '../serve';
import { startServer } from '../server';
import { openStore } from '../store/open';

/**
 * A child process of the API bench, so the server under test has a core to itself and autocannon
 * the other. A store is a JSON store's data directory or a postgres:// URL. argv: `app <store>` starts the real service (`carbonledger serve --no-schedule`) on
 * the store (`app-uncached`: the same server without its answer cache); `floor <bodiesFile>` starts a plain node:http server that reads each request and
 * answers `POST /<name>` with the bytes recorded for that name. Prints `{"url": …}` once listening.
 */
async function main(): Promise<void> {
  const [mode, arg] = process.argv.slice(2);
  let url: string;
  if (mode === 'app') {
    const config = parseConfig({ store: storeOf(arg), server: { host: '127.0.0.1', port: 0 } });
    const service = await startService({ config, log: silentLogger, schedule: false, demo: false });
    url = service.url;
  } else if (mode === 'app-uncached') {
    // The same server with no store version: every answer is executed afresh.
    const store = await openStore(parseConfig({ store: storeOf(arg) }).store, silentLogger);
    const server = await startServer({
      schema: await buildAppSchema(),
      context: ({ principal, signal }) =>
        createRequestContext({ store, clock: systemClock, log: silentLogger, principal, signal }),
      store,
      log: silentLogger,
      host: '127.0.0.1',
      port: 0,
      metrics: createServiceMetrics(),
    });
    url = server.url;
  } else if (mode === 'floor') {
    const bodies = new Map<string, Buffer>(
      Object.entries(JSON.parse(await readFile(arg, 'utf8')) as Record<string, string>).map(
        ([name, text]) => [`/${name}`, Buffer.from(text)],
      ),
    );
    const server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        const body = bodies.get(req.url ?? '');
        if (body === undefined) {
          res.statusCode = 404;
          res.end();
          return;
        }
        res.setHeader('content-type', 'application/json; charset=utf-8');
        res.setHeader('content-length', body.length);
        res.end(body);
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  } else {
    throw new Error(`unknown mode ${mode}`);
  }
  // An orderly exit, so `node --cpu-prof` writes its profile when the bench stops the server.
  process.once('SIGTERM', () => process.exit(0));
  process.stdout.write(`${JSON.stringify({ url })}\n`);
}

function storeOf(arg: string): Record<string, string> {
  return arg.startsWith('postgres') ? { kind: 'postgres', url: arg } : { kind: 'json', dataDir: arg };
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
