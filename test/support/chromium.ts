import type { Browser, BrowserContext, BrowserContextOptions } from 'playwright-core';

export { launchChromium } from '../../src/bench/chromium';

/** URLs a page may load without leaving this machine. */
export function isLocal(url: string): boolean {
  const { protocol, hostname } = new URL(url);
  return protocol === 'data:' || protocol === 'blob:' || hostname === '127.0.0.1';
}

/**
 * A browser context in which anything not served by this machine is refused and recorded in
 * `offMachine`: a page under test must work offline.
 */
export async function offlineContext(
  browser: Browser,
  options: BrowserContextOptions,
): Promise<{ context: BrowserContext; offMachine: Set<string> }> {
  const offMachine = new Set<string>();
  const context = await browser.newContext(options);
  await context.route('**/*', async (route) => {
    const url = route.request().url();
    if (isLocal(url)) return route.continue();
    offMachine.add(url);
    return route.abort('blockedbyclient');
  });
  // Also seen from the other side, in case a request ever slipped past routing.
  context.on('request', (request) => {
    if (!isLocal(request.url())) offMachine.add(request.url());
  });
  return { context, offMachine };
}
