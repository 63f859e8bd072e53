import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { ensureDebianPackage } from '../../src/bench/debian';

/** Runs once before the suite: the system tools the tests drive must be on the machine. */
export default async function globalSetup(): Promise<void> {
  // The Prometheus lab backfills TSDB blocks with promtool and serves them with prometheus.
  await ensureDebianPackage('prometheus', ['prometheus', 'promtool']);
  // Tests that spawn the `carbonledger` binary run dist/cli.js, and the server serves the dashboard
  // from dist/web: build both from the sources under test.
  const root = resolve(__dirname, '../..');
  execFileSync(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', 'tsconfig.build.json'], {
    cwd: root,
    stdio: 'inherit',
  });
  if (webBuildIsCurrent(root)) return;
  const vite = join(dirname(require.resolve('vite/package.json')), 'bin', 'vite.js');
  execFileSync(process.execPath, [vite, 'build', '--config', 'web/vite.config.mts'], {
    cwd: root,
    stdio: 'inherit',
  });
}

/** The dashboard in dist/web is newer than every file under web/ and the lock file: no rebuild needed. */
function webBuildIsCurrent(root: string): boolean {
  const built = join(root, 'dist', 'web', 'index.html');
  if (!existsSync(built)) return false;
  const newest = (path: string): number =>
    statSync(path).isDirectory()
      ? Math.max(0, ...readdirSync(path).map((name) => newest(join(path, name))))
      : statSync(path).mtimeMs;
  return (
    statSync(built).mtimeMs > Math.max(newest(join(root, 'web')), newest(join(root, 'package-lock.json')))
  );
}
