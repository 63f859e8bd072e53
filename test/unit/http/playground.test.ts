import { startTestServer, type TestServer } from '../../support/http';

const BROWSER_ACCEPT = 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8';

describe('playground', () => {
  let server: TestServer;
  let html: string;
  let pageHeaders: Headers;

  beforeAll(async () => {
    server = await startTestServer();
    const res = await fetch(server.url, { headers: { accept: BROWSER_ACCEPT } });
    expect(res.status).toBe(200);
    pageHeaders = res.headers;
    html = await res.text();
  });
  afterAll(async () => {
    await server.close();
  });

  it('is what a browser gets from GET /graphql, also with a query in the URL', async () => {
    expect(pageHeaders.get('content-type')).toBe('text/html; charset=utf-8');
    expect(html).toContain('<div id="graphiql">');

    const withQuery = await fetch(
      `${server.url}?query=${encodeURIComponent('{ usageKeys(level: PROJECT) }')}`,
      {
        headers: { accept: BROWSER_ACCEPT },
      },
    );
    expect(withQuery.headers.get('content-type')).toBe('text/html; charset=utf-8');
  });

  it('forbids every source but our own in its Content-Security-Policy', () => {
    const csp = pageHeaders.get('content-security-policy')!;
    expect(csp).toContain("default-src 'self'");
    expect(csp).toContain("script-src 'self'");
    expect(csp).not.toMatch(/https?:|\*|'unsafe-eval'/);
    expect(pageHeaders.get('cache-control')).toBe('no-cache');
  });

  it('references only same-origin assets, each served with its content type', async () => {
    expect(html).not.toMatch(/\bhttps?:\/\//);
    expect(html).not.toMatch(/(src|href)="\/\//);
    const references = [...html.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1]);
    const assets = references.filter((ref) => !ref.startsWith('data:'));
    expect(assets).toEqual(
      expect.arrayContaining([
        'playground/graphiql.css',
        'playground/start.js',
        'playground/yoga-graphiql.umd.js',
      ]),
    );

    const expected: Record<string, string> = {
      'playground/graphiql.css': 'text/css; charset=utf-8',
      'playground/start.js': 'text/javascript; charset=utf-8',
      'playground/yoga-graphiql.umd.js': 'text/javascript; charset=utf-8',
    };
    for (const asset of assets) {
      const res = await fetch(new URL(asset, server.url));
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toBe(expected[asset]);
      expect((await res.arrayBuffer()).byteLength).toBeGreaterThan(100);
    }
  });

  it('serves the Monaco workers the start script asks for', async () => {
    const start = await (await fetch(`${server.origin}/playground/start.js`)).text();
    const workerFiles = [...start.matchAll(/'([\w.]+\.bundle\.js)'/g)].map((m) => m[1]);
    expect(workerFiles.sort()).toEqual(
      ['editor.worker.bundle.js', 'graphql.worker..bundle.js', 'json.worker.bundle.js'].sort(),
    );
    for (const file of workerFiles) {
      const res = await fetch(`${server.origin}/playground/monacoeditorwork/${file}`);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
      await res.arrayBuffer();
    }
  });

  it('compresses assets and lets caches revalidate them by ETag', async () => {
    const url = `${server.origin}/playground/graphiql.css`;
    // fetch decodes gzip itself and says so in content-encoding.
    const first = await fetch(url, { headers: { 'accept-encoding': 'gzip' } });
    expect(first.headers.get('content-encoding')).toBe('gzip');
    expect(first.headers.get('cache-control')).toBe('public, max-age=3600');
    const etag = first.headers.get('etag')!;
    expect(etag).toMatch(/^"[\w-]+"$/);
    expect((await first.text()).length).toBeGreaterThan(100_000);

    const again = await fetch(url, { headers: { 'if-none-match': etag } });
    expect(again.status).toBe(304);
  });
});
