import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const ROOT = resolve(__dirname, '../..');
const README = readFileSync(join(ROOT, 'README.md'), 'utf8');
const UNIT = readFileSync(join(ROOT, 'docs/carbonledger.service'), 'utf8');

/**
 * Starts `argv` as an operator's shell or systemd would (the process itself, no wrapper), waits
 * until it serves, sends SIGTERM to that process and answers its exit code and stderr.
 */
async function serveThenTerminate(argv: string[], env: Record<string, string>) {
  const child = spawn(argv[0], argv.slice(1), {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', ...env },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<number | null>((done) => child.on('exit', (code) => done(code)));
  try {
    while (!stderr.includes('carbonledger: serving ')) {
      if (child.exitCode !== null) throw new Error(`serve exited early:\n${stderr}`);
      await new Promise((wait) => setTimeout(wait, 100));
    }
    child.kill('SIGTERM');
    return { code: await exited, stderr };
  } finally {
    child.kill('SIGKILL');
  }
}

describe('stopping the server the documented ways', () => {
  let dir: string;
  let config: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'carbonledger-stop-'));
    config = join(dir, 'carbonledger.json');
    writeFileSync(
      config,
      JSON.stringify({
        store: { dataDir: join(dir, 'data') },
        server: { port: 0 },
        prometheus: { url: 'http://127.0.0.1:9' },
      }),
    );
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it("the README's serve command stops on SIGTERM to the process it starts", async () => {
    const [line] = README.split('\n').filter((l) => /^node dist\/cli\.js serve --config /.test(l));
    expect(line).toBeDefined();
    const argv = line.trim().split(/\s+/);
    argv[0] = process.execPath;
    argv[argv.indexOf('--config') + 1] = config;
    const { code, stderr } = await serveThenTerminate(argv, {});
    expect(code).toBe(0);
    expect(stderr).toMatch(
      /carbonledger: serving http:\/\/127\.0\.0\.1:\d+\/graphql .*; the dashboard is at http:\/\/127\.0\.0\.1:\d+\/\n/,
    );
    expect(stderr).toContain('"msg":"stopping","signal":"SIGTERM"');
  });

  it("the systemd unit's ExecStart, with its environment, stops on SIGTERM (its KillSignal)", async () => {
    const setting = (name: string) =>
      UNIT.split('\n')
        .filter((l) => l.startsWith(`${name}=`))
        .map((l) => l.slice(name.length + 1));
    expect(setting('KillSignal')).toEqual(['SIGTERM']);
    const [execStart] = setting('ExecStart');
    const argv = execStart
      .replaceAll('/opt/carbonledger', ROOT)
      .split(/\s+/)
      .map((arg, i) => (i === 0 ? process.execPath : arg));
    expect(argv.slice(1)).toEqual([join(ROOT, 'dist/cli.js'), 'serve']);
    const env = Object.fromEntries(
      setting('Environment').map((pair) => pair.split('=', 2) as [string, string]),
    );
    expect(Object.keys(env).sort()).toEqual(['CARBONLEDGER_CONFIG', 'DATA_DIR']);
    const { code, stderr } = await serveThenTerminate(argv, {
      CARBONLEDGER_CONFIG: config,
      DATA_DIR: join(dir, 'state'),
    });
    expect(code).toBe(0);
    expect(stderr).toContain('"msg":"stopping","signal":"SIGTERM"');
  });

  it('ingest stops on SIGTERM between steps: exit 143, says so, and lets go of the store lock', async () => {
    // A Prometheus that parses the selector but never answers the range query the ingestion waits on.
    let asked!: () => void;
    const rangeAsked = new Promise<void>((resolve) => (asked = resolve));
    const prometheus = createServer((req, res) => {
      if (req.url?.startsWith('/api/v1/query_range')) return asked();
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ status: 'success', data: { resultType: 'vector', result: [] } }));
    });
    await new Promise<void>((listening) => prometheus.listen(0, '127.0.0.1', () => listening()));
    const url = `http://127.0.0.1:${(prometheus.address() as AddressInfo).port}`;
    const dataDir = join(dir, 'data');
    const child = spawn(
      process.execPath,
      ['dist/cli.js', 'ingest', '--from', '2025-09-20T00:00:00Z', '--to', '2025-09-21T00:00:00Z'],
      {
        cwd: ROOT,
        env: {
          PATH: process.env.PATH ?? '',
          DATA_DIR: dataDir,
          PROMETHEUS_URL: url,
          CARBONLEDGER_CONFIG: '',
        },
        stdio: ['ignore', 'ignore', 'pipe'],
      },
    );
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const exited = new Promise<number | null>((done) => child.on('exit', (code) => done(code)));
    try {
      await rangeAsked;
      child.kill('SIGTERM');
      expect(await exited).toBe(143);
      expect(stderr).toContain('carbonledger ingest: stopped by SIGTERM');
      expect(stderr).toContain('"msg":"stopping: the step being fetched is dropped, the stored ones stay"');
      expect(existsSync(join(dataDir, 'ingest.lock'))).toBe(false);
    } finally {
      child.kill('SIGKILL');
      prometheus.closeAllConnections();
      await new Promise((closed) => prometheus.close(closed));
    }
  });
});
