import { spawn } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';

/** The absolute path of an executable on PATH, or null. */
export function findOnPath(binary: string): string | null {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (dir === '') continue;
    const candidate = join(dir, binary);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // Not in this directory.
    }
  }
  return null;
}

/** Runs apt-get (through `sudo -n` when not root) with its output shown; resolves to its success. */
function aptGet(args: string[]): Promise<boolean> {
  const asRoot = process.getuid?.() === 0;
  const [command, ...commandArgs] = asRoot ? ['apt-get', ...args] : ['sudo', '-n', 'apt-get', ...args];
  console.log(`[setup] ${[command, ...commandArgs].join(' ')}`);
  return new Promise((resolve) => {
    const child = spawn(command, commandArgs, {
      stdio: ['ignore', 'inherit', 'inherit'],
      env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
    });
    child.on('error', (err) => {
      console.log(`[setup] ${command} could not run: ${err.message}`);
      resolve(false);
    });
    child.on('close', (code) => resolve(code === 0));
  });
}

/**
 * Makes sure a Debian package's programs are on PATH, installing the package when any is missing.
 * When the install fails (often a stale or empty package list) it refreshes the lists and retries.
 */
export async function ensureDebianPackage(pkg: string, binaries: readonly string[]): Promise<void> {
  const missing = binaries.filter((binary) => findOnPath(binary) === null);
  if (missing.length === 0) return;
  console.log(`[setup] ${missing.join(', ')} not on PATH: installing the Debian package ${pkg}`);
  if (!(await aptGet(['install', '-y', pkg]))) {
    console.log(`[setup] installing ${pkg} failed: updating the package lists and retrying`);
    // An update that fails for one source may still have refreshed the one that matters: retry anyway.
    await aptGet(['update']);
    if (!(await aptGet(['install', '-y', pkg]))) {
      throw new Error(`could not install the Debian package ${pkg} (needed for ${missing.join(', ')})`);
    }
  }
  const stillMissing = binaries.filter((binary) => findOnPath(binary) === null);
  if (stillMissing.length > 0) {
    throw new Error(`the Debian package ${pkg} is installed but ${stillMissing.join(', ')} is not on PATH`);
  }
}
