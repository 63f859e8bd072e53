import { readFile } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { dirname, join } from 'node:path';

import { BASE_HEADERS } from './respond';
import { StaticAssets, type AssetSource } from './static-assets';

/**
 * The GraphiQL playground, served entirely by us so it works without internet access: the page,
 * a small start-up script, and @graphql-yoga/graphiql's bundle (React, GraphiQL and the Monaco
 * editor inside), its stylesheet and Monaco's web workers.
 */

export const PLAYGROUND_PREFIX = '/playground/';

/**
 * Everything the page may load. The stylesheet inlines its fonts and icons as data: URLs, and
 * Monaco and React inject <style> elements at run time, hence those two allowances.
 */
export const PLAYGROUND_CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data:",
  "font-src 'self' data:",
  "connect-src 'self'",
  "worker-src 'self'",
  "object-src 'none'",
  "base-uri 'self'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

const PAGE_HEADERS = {
  ...BASE_HEADERS,
  'content-security-policy': PLAYGROUND_CSP,
  'cross-origin-opener-policy': 'same-origin',
};

/**
 * Asset URLs are relative, so the page keeps working behind a reverse proxy that mounts the
 * service under a path prefix.
 */
const PAGE = `<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8" />
    <meta name="viewport" content="width=device-width, initial-scale=1" />
    <title>carbonledger · GraphQL playground</title>
    <link rel="icon" href="data:," />
    <link rel="stylesheet" href="playground/graphiql.css" />
    <style>html, body, #graphiql { height: 100%; margin: 0; }</style>
    <script defer src="playground/start.js"></script>
    <script defer src="playground/yoga-graphiql.umd.js"></script>
  </head>
  <body>
    <div id="graphiql"><noscript>The playground needs JavaScript.</noscript></div>
  </body>
</html>
`;

/**
 * Runs before the bundle (both scripts are deferred, so in order): Monaco asks
 * `MonacoEnvironment.getWorker` for its workers, which the bundle does not set itself. The
 * default query asks for the last 30 whole UTC days, computed when the page opens.
 */
const START_SCRIPT = `'use strict';
(function () {
  // Labels are Monaco's language ids; everything else uses the plain editor worker.
  var workerFiles = { json: 'json.worker.bundle.js', graphql: 'graphql.worker..bundle.js' };
  self.MonacoEnvironment = {
    getWorker: function (_moduleId, label) {
      var file = workerFiles[label] || 'editor.worker.bundle.js';
      return new Worker(new URL('playground/monacoeditorwork/' + file, document.baseURI), { name: label });
    },
  };

  var DAY_MS = 86400000;
  var tomorrow = (Math.floor(Date.now() / DAY_MS) + 1) * DAY_MS;
  var variables = {
    key: 'IDAaaS',
    from: new Date(tomorrow - 30 * DAY_MS).toISOString(),
    to: new Date(tomorrow).toISOString(),
  };
  var defaultQuery = [
    "# carbonledger: kWh and gCO2eq of the cloud's machines.",
    '# Ctrl-Enter runs it. Set "key" below to one of the keys usageKeys lists.',
    'query LastThirtyDays($key: String!, $from: DateTime!, $to: DateTime!) {',
    '  usageKeys(level: PROJECT)',
    '  usageSeries(',
    '    level: PROJECT',
    '    key: $key',
    '    from: $from',
    '    to: $to',
    '    granularity: DAY',
    '  ) {',
    '    id',
    '    key',
    '    total { busyKwh idleKwh totalKwh totalGco2eq }',
    '    buckets {',
    '      start',
    '      status',
    '      failedHours',
    '      usage { totalKwh totalGco2eq }',
    '    }',
    '  }',
    '}',
    '',
  ].join('\\n');

  document.addEventListener('DOMContentLoaded', function () {
    self.YogaGraphiQL.renderYogaGraphiQL(document.getElementById('graphiql'), {
      title: 'carbonledger',
      endpoint: new URL('graphql', document.baseURI).pathname,
      // A query in the URL (GraphiQL keeps the edited one there) wins over the default.
      query: new URL(location.href).searchParams.get('query') || defaultQuery,
      variables: JSON.stringify(variables, null, 2),
    });
  });
})();
`;

function graphiqlDist(): string {
  return join(dirname(require.resolve('@graphql-yoga/graphiql/package.json')), 'dist');
}

function assetSources(): Map<string, AssetSource> {
  const dist = graphiqlDist();
  const file = (contentType: string, ...path: string[]): AssetSource => ({
    contentType,
    load: () => readFile(join(dist, ...path)),
  });
  const javascript = 'text/javascript; charset=utf-8';
  return new Map([
    ['start.js', { contentType: javascript, load: async () => Buffer.from(START_SCRIPT) }],
    ['yoga-graphiql.umd.js', file(javascript, 'yoga-graphiql.umd.js')],
    ['graphiql.css', file('text/css; charset=utf-8', 'graphiql.css')],
    ...['editor.worker.bundle.js', 'json.worker.bundle.js', 'graphql.worker..bundle.js'].map(
      (name): [string, AssetSource] => [
        `monacoeditorwork/${name}`,
        file(javascript, 'monacoeditorwork', name),
      ],
    ),
  ]);
}

/** Serves the playground page and its assets. */
export class Playground {
  private readonly assets = new StaticAssets(assetSources(), PAGE_HEADERS);

  /** True when `pathname` (under PLAYGROUND_PREFIX) names an asset we serve. */
  hasAsset(pathname: string): boolean {
    return this.assets.has(pathname.slice(PLAYGROUND_PREFIX.length));
  }

  servePage(res: ServerResponse): void {
    res.writeHead(200, {
      ...PAGE_HEADERS,
      'content-type': 'text/html; charset=utf-8',
      // The page is tiny and names unversioned assets: always revalidate it.
      'cache-control': 'no-cache',
    });
    res.end(PAGE);
  }

  serveAsset(req: IncomingMessage, res: ServerResponse, pathname: string): Promise<void> {
    // Names carry no version, so caches keep them a while and then revalidate by ETag.
    return this.assets.serve(req, res, pathname.slice(PLAYGROUND_PREFIX.length), 'public, max-age=3600');
  }
}
