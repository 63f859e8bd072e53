import { ensureDebianPackage, findOnPath } from '../../src/bench/debian';

/**
 * Debian's Chromium for the browser tests: playwright-core drives it but never downloads a browser
 * of its own (that would need internet access beyond the package registries). Installs the
 * package when it is missing (apt-get update first when the lists do not know it yet).
 */
export async function ensureChromium(): Promise<string> {
  await ensureDebianPackage('chromium', ['chromium']);
  const executable = findOnPath('chromium');
  if (executable === null) throw new Error('chromium is not on PATH after installing it');
  return executable;
}
