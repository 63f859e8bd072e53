import { readdir, readFile } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { extname, join } from 'node:path';

import { BASE_HEADERS, sendText } from './respond';
import { StaticAssets, type AssetSource } from './static-assets';

/**
 * The dashboard at `/`: a single page built from web/ by `npm run build` (Vite) into dist/web,
 * every file served from here so it works without internet access. The page and its hashed
 * assets are found once, by listing that directory; a request names one of them or gets 404.
 */

/** Where Vite puts the page's scripts and styles (build.assetsDir), under hashed names. */
export const DASHBOARD_PREFIX = '/dashboard/';

/** From both src/http (tests) and dist/http (the package), the build's output is ../../dist/web. */
export const DASHBOARD_BUILD_DIR = join(__dirname, '..', '..', 'dist', 'web');

/**
 * Everything the page may load: its own scripts and styles, its own API. Styles the page sets
 * (uPlot, Preact) go through the CSSOM, which a style-src without 'unsafe-inline' allows; the CSV
 * download is a blob: URL.
 */
export const DASHBOARD_CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data: blob:",
  "font-src 'self'",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'self'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

const PAGE_HEADERS = {
  ...BASE_HEADERS,
  'content-security-policy': DASHBOARD_CSP,
  'cross-origin-opener-policy': 'same-origin',
};

const CONTENT_TYPES: Readonly<Record<string, string>> = {
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.woff2': 'font/woff2',
};

const PAGE_NAME = 'index.html';

export class Dashboard {
  private assets: Promise<StaticAssets | undefined> | undefined;

  constructor(private readonly buildDir = DASHBOARD_BUILD_DIR) {}

  async hasAsset(pathname: string): Promise<boolean> {
    const assets = await this.load();
    return assets?.has(assetName(pathname)) ?? false;
  }

  async servePage(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const assets = await this.load();
    if (!assets) return sendText(res, 503, 'the dashboard is not built: run `npm run build`\n');
    // The page names its assets by content hash: it must always be revalidated, they never.
    await assets.serve(req, res, PAGE_NAME, 'no-cache');
  }

  async serveAsset(req: IncomingMessage, res: ServerResponse, pathname: string): Promise<void> {
    const assets = await this.load();
    await assets!.serve(req, res, assetName(pathname), 'public, max-age=31536000, immutable');
  }

  private load(): Promise<StaticAssets | undefined> {
    this.assets ??= listBuild(this.buildDir).then((sources) => {
      // Not built yet: looked for again on the next request.
      if (!sources) this.assets = undefined;
      return sources && new StaticAssets(sources, PAGE_HEADERS);
    });
    return this.assets;
  }
}

/** `/dashboard/x.js` is the asset `dashboard/x.js`; the page is not among them. */
function assetName(pathname: string): string {
  return pathname.slice(1);
}

/** The page (under PAGE_NAME) and the assets of a known type; undefined when nothing is built. */
async function listBuild(buildDir: string): Promise<Map<string, AssetSource> | undefined> {
  const assetsDir = join(buildDir, DASHBOARD_PREFIX);
  let names: string[];
  try {
    names = await readdir(assetsDir);
    await readFile(join(buildDir, PAGE_NAME));
  } catch {
    return undefined;
  }
  const file = (contentType: string, path: string): AssetSource => ({
    contentType,
    load: () => readFile(path),
  });
  const sources = new Map<string, AssetSource>([
    [PAGE_NAME, file('text/html; charset=utf-8', join(buildDir, PAGE_NAME))],
  ]);
  for (const name of names) {
    const contentType = CONTENT_TYPES[extname(name)];
    if (contentType)
      sources.set(`${DASHBOARD_PREFIX.slice(1)}${name}`, file(contentType, join(assetsDir, name)));
  }
  return sources;
}
