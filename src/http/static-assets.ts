import { createHash } from 'node:crypto';
import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import { promisify } from 'node:util';
import { gzip } from 'node:zlib';

/** One file we serve: its content type and how to read it. */
export interface AssetSource {
  contentType: string;
  load(): Promise<Buffer>;
}

interface LoadedAsset {
  contentType: string;
  body: Buffer;
  gzipped: Buffer;
  etag: string;
}

const gzipAsync = promisify(gzip);

/**
 * A fixed set of files, looked up by name only (a request names an entry of the map or gets
 * nothing, so no request can reach a path of its own making), each read and compressed once, on
 * first use, and served with an ETag and gzip when the client accepts it.
 */
export class StaticAssets {
  private readonly loaded = new Map<string, Promise<LoadedAsset>>();

  constructor(
    private readonly sources: ReadonlyMap<string, AssetSource>,
    /** Sent with every answer (security headers). */
    private readonly headers: OutgoingHttpHeaders,
  ) {}

  has(name: string): boolean {
    return this.sources.has(name);
  }

  async serve(req: IncomingMessage, res: ServerResponse, name: string, cacheControl: string): Promise<void> {
    const asset = await this.load(name);
    const headers = {
      ...this.headers,
      etag: asset.etag,
      'cache-control': cacheControl,
      vary: 'accept-encoding',
    };
    if (req.headers['if-none-match'] === asset.etag) {
      res.writeHead(304, headers);
      res.end();
      return;
    }
    const acceptsGzip = /\bgzip\b/.test(req.headers['accept-encoding'] ?? '');
    const body = acceptsGzip ? asset.gzipped : asset.body;
    res.writeHead(200, {
      ...headers,
      'content-type': asset.contentType,
      'content-length': body.length,
      ...(acceptsGzip ? { 'content-encoding': 'gzip' } : {}),
    });
    res.end(body);
  }

  private load(name: string): Promise<LoadedAsset> {
    let asset = this.loaded.get(name);
    if (!asset) {
      const source = this.sources.get(name);
      if (!source) throw new Error(`no asset named ${name}`);
      asset = loadAsset(source);
      // A failed read is retried on the next request rather than cached.
      asset.catch(() => this.loaded.delete(name));
      this.loaded.set(name, asset);
    }
    return asset;
  }
}

async function loadAsset(source: AssetSource): Promise<LoadedAsset> {
  const body = await source.load();
  const etag = `"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"`;
  return { contentType: source.contentType, body, gzipped: await gzipAsync(body), etag };
}
