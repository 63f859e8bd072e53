import { mkdtemp, rm } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { Dashboard, DASHBOARD_BUILD_DIR } from '../../../src/http/dashboard';
import { startTestServer, type TestServer } from '../../support/http';

/** A raw GET, so a path reaches the server exactly as written (fetch would normalise `..`). */
function rawGet(origin: string, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(`${origin}${path}`, { method: 'GET', path }, (res) => {
      let body = '';
      res.on('data', (chunk: Buffer) => (body += chunk.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('the dashboard at /', () => {
  let server: TestServer;
  let html: string;
  let pageHeaders: Headers;

  beforeAll(async () => {
    server = await startTestServer();
    const res = await fetch(`${server.origin}/`);
    expect(res.status).toBe(200);
    pageHeaders = res.headers;
    html = await res.text();
  });
  afterAll(async () => {
    await server.close();
  });

  it('is the built page, revalidated on every load, under a strict Content-Security-Policy', () => {
    expect(pageHeaders.get('content-type')).toBe('text/html; charset=utf-8');
    expect(html).toContain('<div id="app">');
    expect(pageHeaders.get('cache-control')).toBe('no-cache');
    const csp = pageHeaders.get('content-security-policy')!;
    expect(csp).toContain("default-src 'self'");
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("connect-src 'self'");
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).not.toMatch(/https?:|\*|'unsafe-eval'|'unsafe-inline'/);
    expect(pageHeaders.get('x-content-type-options')).toBe('nosniff');
  });

  it('names only its own hashed assets, each served with its type, gzip and a year of caching', async () => {
    expect(html).not.toMatch(/\bhttps?:\/\//);
    expect(html).not.toMatch(/<script>|<style>/);
    const assets = [...html.matchAll(/(?:src|href)="(\.\/dashboard\/[^"]+)"/g)].map((m) => m[1]!);
    expect(assets.some((asset) => asset.endsWith('.js'))).toBe(true);
    expect(assets.some((asset) => asset.endsWith('.css'))).toBe(true);
    for (const asset of assets) {
      const res = await fetch(new URL(asset, `${server.origin}/`), {
        headers: { 'accept-encoding': 'gzip' },
      });
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toBe(
        asset.endsWith('.js') ? 'text/javascript; charset=utf-8' : 'text/css; charset=utf-8',
      );
      expect(res.headers.get('content-encoding')).toBe('gzip');
      expect(res.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
      expect((await res.arrayBuffer()).byteLength).toBeGreaterThan(1000);

      const again = await fetch(new URL(asset, `${server.origin}/`), {
        headers: { 'if-none-match': res.headers.get('etag')! },
      });
      expect(again.status).toBe(304);
    }
  });

  it('answers 404 for anything else, however the path is spelled', async () => {
    for (const path of [
      '/dashboard/',
      '/dashboard/index.html',
      '/dashboard/../package.json',
      '/dashboard/..%2f..%2fpackage.json',
      '/dashboard/%2e%2e/%2e%2e/package.json',
      '/dashboard//etc/passwd',
      '/index.html',
      '/package.json',
    ]) {
      const res = await rawGet(server.origin, path);
      expect({ path, status: res.status }).toEqual({ path, status: 404 });
      expect(res.body).not.toContain('"name": "carbonledger"');
    }
  });

  it('refuses methods other than GET and HEAD', async () => {
    const res = await fetch(`${server.origin}/`, { method: 'POST', body: '{}' });
    expect(res.status).toBe(405);
    expect(res.headers.get('allow')).toBe('GET, HEAD');
  });

  it('says so when it has not been built, and lists no asset it does not hold', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'dashboard-'));
    try {
      const dashboard = new Dashboard(dir);
      expect(await dashboard.hasAsset('/dashboard/index.js')).toBe(false);
      const unbuilt = new Dashboard(join(dir, 'missing'));
      const answered: { status?: number; body?: string } = {};
      const res = {
        writeHead: (status: number) => (answered.status = status),
        end: (body: string) => (answered.body = body),
      };
      await unbuilt.servePage({ headers: {} } as never, res as never);
      expect(answered).toEqual({ status: 503, body: expect.stringContaining('npm run build') });
      expect(await new Dashboard(DASHBOARD_BUILD_DIR).hasAsset('/dashboard/nothing.js')).toBe(false);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
