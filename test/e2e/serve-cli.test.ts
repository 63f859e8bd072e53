import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

/** The built binary (the suite's global setup builds dist/ from the sources under test). */
const CLI = resolve(__dirname, '../../dist/cli.js');
const DAY_MS = 86_400_000;

interface Spawned {
  child: ChildProcess;
  stderr: () => string;
  exited: Promise<number | null>;
}

function spawnCli(args: string[], cwd: string): Spawned {
  const child = spawn(process.execPath, [CLI, ...args], {
    cwd,
    env: { ...process.env, CARBONLEDGER_CONFIG: '', PROMETHEUS_URL: 'http://127.0.0.1:9' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<number | null>((done) => child.on('exit', (code) => done(code)));
  return { child, stderr: () => stderr, exited };
}

async function servingUrl(spawned: Spawned): Promise<string> {
  for (;;) {
    const match = /serving (http:\/\/\S+)/.exec(spawned.stderr());
    if (match) return match[1];
    if (spawned.child.exitCode !== null) throw new Error(`serve exited early:\n${spawned.stderr()}`);
    await new Promise((wait) => setTimeout(wait, 100));
  }
}

describe('carbonledger serve, as a newcomer runs it', () => {
  let cwd: string;
  beforeEach(() => {
    cwd = mkdtempSync(join(tmpdir(), 'carbonledger-serve-'));
  });
  afterEach(() => rmSync(cwd, { recursive: true, force: true }));

  it('fills ./data with demo usage, answers non-zero figures for the last 30 days, and stops on SIGTERM', async () => {
    const serve = spawnCli(['serve', '--demo', '--no-schedule', '--port', '0'], cwd);
    try {
      const url = await servingUrl(serve);
      const to = new Date(Math.floor(Date.now() / DAY_MS) * DAY_MS);
      const from = new Date(to.getTime() - 30 * DAY_MS);
      const response = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          query: `query($from: DateTime!, $to: DateTime!) {
            usageKeys(level: PROJECT)
            usageSeries(level: PROJECT, key: "IDAaaS", from: $from, to: $to, granularity: DAY) {
              total { busyKwh idleKwh busyGco2eq } buckets { status }
            }
          }`,
          variables: { from: from.toISOString(), to: to.toISOString() },
        }),
      });
      const { data } = (await response.json()) as {
        data: {
          usageKeys: string[];
          usageSeries: { total: Record<string, number>; buckets: Array<{ status: string }> };
        };
      };
      expect(data.usageKeys).toContain('IDAaaS');
      expect(data.usageSeries.buckets.map((b) => b.status)).toEqual(Array(30).fill('OK'));
      expect(data.usageSeries.total.busyKwh).toBeGreaterThan(0);
      expect(data.usageSeries.total.idleKwh).toBeGreaterThan(0);
      expect(data.usageSeries.total.busyGco2eq).toBeGreaterThan(0);

      serve.child.kill('SIGTERM');
      expect(await serve.exited).toBe(0);
      expect(serve.stderr()).toContain('"msg":"stopping","signal":"SIGTERM"');
    } finally {
      serve.child.kill('SIGKILL');
    }
  });

  it('refuses to listen beyond loopback with no auth section, exit 2 naming server.host', async () => {
    const serve = spawnCli(['serve', '--host', '0.0.0.0', '--port', '0', '--no-schedule'], cwd);
    expect(await serve.exited).toBe(2);
    expect(serve.stderr()).toMatch(/server\.host: refusing to listen on 0\.0\.0\.0 with no "auth" section/);
  });

  it('refuses a schedule node-schedule could not run, exit 2 naming its path, before listening', async () => {
    const config = join(cwd, 'config.json');
    writeFileSync(config, JSON.stringify({ schedule: { reconcile: '0 25 * * *' } }));
    const serve = spawnCli(['serve', '--config', config, '--port', '0'], cwd);
    expect(await serve.exited).toBe(2);
    expect(serve.stderr()).toContain('schedule.reconcile: expected a valid cron expression');
    expect(serve.stderr()).not.toContain('serving');
  });

  it('rejects a bad --port and a bad export argument with exit 2 and the flag named', async () => {
    const badPort = spawnCli(['serve', '--port', 'eighty'], cwd);
    expect(await badPort.exited).toBe(2);
    expect(badPort.stderr()).toContain('--port: "eighty" is not a port number');

    const badRange = spawnCli(
      [
        'export',
        '--level',
        'PROJECT',
        '--key',
        'x',
        '--from',
        '2026-02-01',
        '--to',
        '2026-01-01',
        '--granularity',
        'DAY',
      ],
      cwd,
    );
    expect(await badRange.exited).toBe(2);
    expect(badRange.stderr()).toMatch(/from.*must be before.*to/);

    const badFormat = spawnCli(
      [
        'export',
        '--level',
        'PROJECT',
        '--key',
        'x',
        '--from',
        '2026-01-01',
        '--to',
        '2026-02-01',
        '--granularity',
        'DAY',
        '--format',
        'xml',
      ],
      cwd,
    );
    expect(await badFormat.exited).toBe(2);
    expect(badFormat.stderr()).toContain('--format: "xml" is not one of csv, json');
  });
});
