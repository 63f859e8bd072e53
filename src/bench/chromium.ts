import { chromium, type Browser } from 'playwright-core';

import { ensureDebianPackage, findOnPath } from './debian';

/**
 * Debian's Chromium, driven by playwright-core, which never downloads a browser of its own (that
 * would need internet access beyond the package registries). Installs the package when it is
 * missing (apt-get update first when the lists do not know it yet).
 */
export async function ensureChromium(): Promise<string> {
  await ensureDebianPackage('chromium', ['chromium']);
  const executable = findOnPath('chromium');
  if (executable === null) throw new Error('chromium is not on PATH after installing it');
  return executable;
}

/** Headless Chromium that makes no request of its own (updates, sync, QUIC probes) on this closed network. */
export async function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: await ensureChromium(),
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}
