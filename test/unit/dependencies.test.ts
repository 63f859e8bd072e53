import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { promisify } from 'node:util';
import { subset } from 'semver';

const ROOT = resolve(__dirname, '../..');
const manifest = JSON.parse(readFileSync(resolve(ROOT, 'package.json'), 'utf8')) as {
  engines: { node: string };
};
const lock = JSON.parse(readFileSync(resolve(ROOT, 'package-lock.json'), 'utf8')) as {
  packages: Record<string, { engines?: { node?: string } | string[] }>;
};

describe('npm install', () => {
  it('installs no package whose engines refuse a Node that package.json says it runs on', () => {
    // npm prints EBADENGINE for each such package: every Node our `engines` admits must be one
    // every locked package admits too.
    const refusing = Object.entries(lock.packages)
      .map(([path, entry]) => ({
        path,
        node: Array.isArray(entry.engines) ? undefined : entry.engines?.node,
      }))
      .filter(({ node }) => node !== undefined && !subset(manifest.engines.node, node));
    expect(refusing).toEqual([]);
  });

  it('runs on the Node that runs this test', () => {
    expect(subset(process.versions.node, manifest.engines.node)).toBe(true);
  });

  it('leaves no peer dependency conflict or invalid version in the installed tree', async () => {
    // `npm ls` exits non-zero on an invalid, missing or extraneous package, which is what npm
    // warned about as ERESOLVE while installing.
    const { stderr } = await promisify(execFile)('npm', ['ls', '--all'], { cwd: ROOT, maxBuffer: 1 << 26 });
    expect(stderr).toBe('');
  });
});
