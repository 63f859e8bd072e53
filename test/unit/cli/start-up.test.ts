import { execFile } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { main } from '../../../src/cli';
import { parseConfig } from '../../../src/config';
import type { Logger } from '../../../src/log';
import { silentLogger } from '../../../src/log';
import { startService } from '../../../src/serve';
import { openStore } from '../../../src/store/open';
import { createTestDatabase } from '../../support/postgres';
import { tempDirs } from '../../support/fake-ingest';

const CLI = resolve(__dirname, '../../../dist/cli.js');
const NOBODY = 65534;
const dirs = tempDirs('cl-start-up-');
afterEach(() => dirs.cleanup());

async function run(argv: string[], env: Record<string, string> = {}) {
  let stderr = '';
  const err = jest
    .spyOn(process.stderr, 'write')
    .mockImplementation((chunk) => ((stderr += String(chunk)), true));
  const saved = { ...process.env };
  Object.assign(process.env, { CARBONLEDGER_CONFIG: '', PROMETHEUS_URL: 'http://127.0.0.1:9' }, env);
  try {
    return { code: await main(argv), stderr };
  } finally {
    process.env = saved;
    err.mockRestore();
  }
}

/** Runs the built CLI as an unprivileged user, for whom a directory's mode counts (root passes them all). */
async function runUnprivileged(argv: string[], env: Record<string, string>) {
  const isRoot = process.getuid?.() === 0;
  if (!isRoot) return run(argv, env);
  return promisify(execFile)(process.execPath, [CLI, ...argv], {
    uid: NOBODY,
    gid: NOBODY,
    env: {
      PATH: process.env.PATH ?? '',
      CARBONLEDGER_CONFIG: '',
      PROMETHEUS_URL: 'http://127.0.0.1:9',
      ...env,
    },
  }).then(
    ({ stderr }) => ({ code: 0, stderr }),
    (err: { code: number; stderr: string }) => ({ code: err.code, stderr: err.stderr }),
  );
}

const HOUR = ['--from', '2025-09-21T00:00:00Z', '--to', '2025-09-21T01:00:00Z'];

describe('start-up checks', () => {
  it('ingest and serve: a dataDir under a regular file is exit 2 naming store.dataDir and DATA_DIR, without a stack', async () => {
    const file = join(dirs.make(), 'a-file');
    writeFileSync(file, 'not a directory');
    for (const argv of [
      ['ingest', ...HOUR],
      ['serve', '--no-schedule', '--port', '0'],
    ]) {
      const { code, stderr } = await run(argv, { DATA_DIR: join(file, 'data') });
      expect({ argv, code }).toEqual({ argv, code: 2 });
      expect(stderr).toContain(`store.dataDir (or DATA_DIR): ${join(file, 'data')} cannot hold the store`);
      expect(stderr).toContain('ENOTDIR');
      expect(stderr).not.toMatch(/\n\s+at /);
    }
  });

  it('ingest: a dataDir on a file system that refuses new directories (procfs) is exit 2, not a hang', async () => {
    // Node's recursive mkdir loops for ever on procfs's ENOENT; the check makes one level at a time.
    const dataDir = `/proc/carbonledger-${process.pid}/data`;
    const { code, stderr } = await run(['ingest', ...HOUR], { DATA_DIR: dataDir });
    expect(code).toBe(2);
    expect(stderr).toContain(
      `store.dataDir (or DATA_DIR): ${dataDir} cannot hold the store: the file system there refuses new directories (ENOENT)`,
    );
  });

  // Without its schedule serve only reads, and starts on a store it may not write (unwritable-store.test.ts).
  it('serve with its schedule: a read-only dataDir is exit 2 naming it, before anything listens or is scheduled', async () => {
    const dataDir = join(dirs.make(), 'data');
    mkdirSync(dataDir);
    chmodSync(dataDir, 0o555);
    const { code, stderr } = await runUnprivileged(['serve', '--port', '0'], {
      DATA_DIR: dataDir,
    });
    expect(code).toBe(2);
    expect(stderr).toContain(
      `store.dataDir (or DATA_DIR): ${dataDir} cannot hold the store: permission denied (EACCES)`,
    );
    expect(readdirSync(dataDir)).toEqual([]);
  });

  it('serve --demo: a port taken is found before the demo store is generated', async () => {
    const taken: Server = createServer();
    await new Promise<void>((listening) => taken.listen(0, '127.0.0.1', () => listening()));
    const port = (taken.address() as { port: number }).port;
    const dataDir = join(dirs.make(), 'data');
    try {
      const { code, stderr } = await run(['serve', '--demo', '--no-schedule', '--port', String(port)], {
        DATA_DIR: dataDir,
      });
      expect(code).toBe(1);
      expect(stderr).toContain(`cannot listen on 127.0.0.1 port ${port}: the port is in use`);
      expect(existsSync(join(dataDir, 'usage'))).toBe(false);
    } finally {
      await new Promise((closed) => taken.close(closed));
    }
  });

  it('serve --demo: holds its port while it generates, so nothing takes it meanwhile', async () => {
    const free: Server = createServer();
    await new Promise<void>((listening) => free.listen(0, '127.0.0.1', () => listening()));
    const port = (free.address() as { port: number }).port;
    await new Promise((closed) => free.close(closed));

    let tried: Promise<string> | undefined;
    const tryToTake = () =>
      new Promise<string>((resolve) => {
        const other = createServer();
        other.once('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? 'error'));
        other.listen(port, '127.0.0.1', () => other.close(() => resolve('listened')));
      });
    const log: Logger = {
      info: (msg) => {
        if (msg === 'demo: generating usage') tried ??= tryToTake();
      },
      warn: () => undefined,
      error: () => undefined,
      child: () => log,
    };
    const config = parseConfig({ store: { dataDir: join(dirs.make(), 'data') }, server: { port } });
    const service = await startService({ config, log, schedule: false, demo: true, demoDays: 2 });
    try {
      expect(await tried).toBe('EADDRINUSE');
      expect(service.port).toBe(port);
      expect((await fetch(`http://127.0.0.1:${port}/healthz`)).status).toBe(200);
    } finally {
      await service.close();
    }
  });

  it('serve --demo: waits while another process holds the writer, then starts on the store it filled', async () => {
    const config = parseConfig({ store: { dataDir: join(dirs.make(), 'data') }, server: { port: 0 } });
    const store = await openStore(config.store, silentLogger);
    const held = await store.openWriter({ purpose: 'another replica filling the demo' });
    let released = false;
    const release = new Promise<void>((done) =>
      setTimeout(() => void held.release().then(() => ((released = true), done())), 500),
    );
    try {
      const service = await startService({
        config,
        log: silentLogger,
        schedule: false,
        demo: true,
        demoDays: 1,
      });
      try {
        expect(released).toBe(true);
        expect((await fetch(`http://127.0.0.1:${service.port}/healthz`)).status).toBe(200);
      } finally {
        await service.close();
      }
    } finally {
      await release;
      await store.close();
    }
  });

  it('serve and ingest on PostgreSQL make no data directory: the database holds everything', async () => {
    const database = await createTestDatabase('cl_start_up');
    const dataDir = join(dirs.make(), 'never-made');
    try {
      const config = parseConfig({
        store: { kind: 'postgres', url: database.url, dataDir },
        server: { port: 0 },
      });
      const service = await startService({
        config,
        log: silentLogger,
        schedule: false,
        demo: true,
        demoDays: 1,
      });
      await service.close();
      const { code } = await run(['ingest', ...HOUR], { DATABASE_URL: database.url, DATA_DIR: dataDir });
      expect(code).not.toBe(2);
      expect(existsSync(dataDir)).toBe(false);
    } finally {
      await database.drop();
    }
  });
});
