import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseConfig } from '../../../src/config';
import { LEVELS } from '../../../src/domain/levels';
import { GRANULARITIES } from '../../../src/domain/time';
import { runCli } from '../../support/cli';
import { tempDirs } from '../../support/fake-ingest';

const dirs = tempDirs('cl-cli-');
afterEach(() => dirs.cleanup());

const run = runCli;
const CLI = resolve(__dirname, '../../../dist/cli.js');

describe('the command line', () => {
  it('prints its usage for --help, after a command too, and exits 0', async () => {
    for (const argv of [['--help'], ['-h'], ['help'], ['ingest', '--help']]) {
      const { code, stdout } = await run(argv);
      expect({ argv, code }).toEqual({ argv, code: 0 });
      expect(stdout).toContain('carbonledger ingest --from ISO --to ISO');
    }
  });

  it('says an unknown command is unknown even with --help, and exits 2', async () => {
    for (const argv of [
      ['bogus', '--help'],
      ['help', 'bogus'],
    ]) {
      const { code, stderr } = await run(argv);
      expect({ argv, code }).toEqual({ argv, code: 2 });
      expect(stderr).toContain('unknown command "bogus"');
    }
  });

  it('export into a pipe its reader closes early exits 0, with no stack', async () => {
    const dataDir = dirs.make();
    const child = spawn(
      process.execPath,
      [
        CLI,
        'export',
        '--level',
        'PROJECT',
        '--key',
        'p',
        '--from',
        '2025-01-01T00:00:00Z',
        '--to',
        '2026-01-01T00:00:00Z',
        '--granularity',
        'HOUR',
      ],
      {
        env: { PATH: process.env.PATH ?? '', DATA_DIR: dataDir, CARBONLEDGER_CONFIG: '' },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const exited = new Promise<number | null>((done) => child.on('exit', (code) => done(code)));
    // A year of hours is far more than a pipe holds: like `| head -1`, read a little, then close.
    await new Promise((firstChunk) => child.stdout.once('data', firstChunk));
    child.stdout.destroy();
    expect(await exited).toBe(0);
    expect(stderr).not.toContain('EPIPE');
  });

  it.each(['serve', 'ingest', 'export', 'token', 'migrate', 'copy-store', 'prune'])(
    '%s --help (and help VERB) prints that command’s own help: every flag, its exit codes, its environment',
    async (verb) => {
      const { code, stdout } = await run([verb, '--help']);
      expect(code).toBe(0);
      expect((await run(['help', verb])).stdout).toBe(stdout);
      expect(stdout).toMatch(new RegExp(`^usage: carbonledger ${verb}`));
      const synopsis = stdout.split('\n')[0];
      const flags = [...synopsis.matchAll(/--[a-z-]+/g)].map(([flag]) => flag);
      expect(flags.length).toBeGreaterThan(0);
      const body = stdout.slice(synopsis.length);
      for (const flag of flags)
        expect({ verb, flag, described: body.includes(`  ${flag}`) }).toMatchObject({ described: true });
      expect(stdout).toContain('\nexit codes:\n');
      expect(stdout).toContain('\nenvironment');
    },
  );

  it('names the values a flag takes and every exit code a command can give', async () => {
    const exportHelp = (await run(['export', '--help'])).stdout;
    for (const value of [...LEVELS, ...GRANULARITIES, 'csv', 'json']) expect(exportHelp).toContain(value);
    const ingestHelp = (await run(['ingest', '--help'])).stdout;
    for (const exit of ['0', '1', '2', '3', '4']) expect(ingestHelp).toMatch(new RegExp(`\\n  ${exit}  \\S`));
    for (const variable of ['CARBONLEDGER_CONFIG', 'PROMETHEUS_URL', 'DATA_DIR'])
      expect(ingestHelp).toContain(variable);
    expect((await run(['serve', '--help'])).stdout).toContain('HOST, PORT');
    // Each command's help is its own.
    const helps = await Promise.all(
      ['serve', 'ingest', 'export', 'token'].map(async (verb) => (await run([verb, '-h'])).stdout),
    );
    expect(new Set(helps).size).toBe(4);
  });

  it("prints the package's version for --version", async () => {
    const { version } = JSON.parse(readFileSync(resolve(__dirname, '../../../package.json'), 'utf8'));
    expect(await run(['--version'])).toEqual({ code: 0, stdout: `${version}\n`, stderr: '' });
  });

  it('token: prints a token whose SHA-256 is the config entry it prints', async () => {
    const { code, stdout } = await run(['token', '--name', 'isis', '--projects', 'ISIS, CLF']);
    expect(code).toBe(0);
    const token = stdout.split('\n')[1];
    const entry = JSON.parse(stdout.slice(stdout.indexOf('{')));
    expect(entry).toEqual({
      name: 'isis',
      sha256: createHash('sha256').update(token).digest('hex'),
      projects: ['ISIS', 'CLF'],
    });
  });

  it('token: names tokens made without --name apart, so a config can hold them all', async () => {
    const entries = [];
    for (let i = 0; i < 3; i++) {
      const { stdout } = await run(['token', '--projects', i === 0 ? 'ISIS' : 'CLF']);
      entries.push(JSON.parse(stdout.slice(stdout.indexOf('{'))));
    }
    expect(new Set(entries.map((entry) => entry.name)).size).toBe(3);
    for (const entry of entries) expect(entry.name).toMatch(/^token-\d{4}-\d{2}-\d{2}-[0-9a-f]{8}$/);
    expect(parseConfig({ auth: { tokens: entries } }).auth?.tokens).toHaveLength(3);
  });

  it('token: refuses a token both admin and scoped, and one with no scope, exit 2 saying why once', async () => {
    const both = await run(['token', '--admin', '--projects', 'ISIS']);
    expect(both).toMatchObject({ code: 2, stdout: '' });
    expect(both.stderr).toBe(
      'carbonledger token: an admin token sees everything: give --admin or --projects/--users, not both\n',
    );
    const none = await run(['token']);
    expect(none.code).toBe(2);
    expect(none.stderr).toBe('carbonledger token: give --admin, or --projects and/or --users to scope it\n');
  });

  it('serve: a host that is no address of this machine is exit 2 naming server.host, without a stack', async () => {
    const dir = dirs.make();
    const config = join(dir, 'config.json');
    writeFileSync(
      config,
      JSON.stringify({ store: { dataDir: join(dir, 'data') }, auth: { anonymous: true } }),
    );
    // 192.0.2.1 is TEST-NET-1 (RFC 5737): never an address of this machine.
    const { code, stderr } = await run(['serve', '--config', config, '--host', '192.0.2.1', '--port', '0']);
    expect(code).toBe(2);
    expect(stderr).toContain('server.host/server.port: cannot listen on 192.0.2.1 port 0');
    expect(stderr).not.toMatch(/\n\s+at /);
  });

  it('export: refuses a data directory that does not exist, rather than create it and export MISSING', async () => {
    const absent = join(dirs.make(), 'typo');
    process.env.DATA_DIR = absent;
    try {
      const args = ['--level', 'PROJECT', '--key', 'x', '--from', '2026-01-01', '--to', '2026-01-02'];
      const { code, stderr } = await run(['export', ...args, '--granularity', 'DAY']);
      expect(code).toBe(2);
      expect(stderr).toContain(`store.dataDir (or DATA_DIR): ${absent} does not exist`);
      expect(existsSync(absent)).toBe(false);

      // A mistake in the range is still named as such.
      const reversed = ['--level', 'PROJECT', '--key', 'x', '--from', '2026-01-02', '--to', '2026-01-01'];
      const backwards = await run(['export', ...reversed, '--granularity', 'DAY']);
      expect(backwards.code).toBe(2);
      expect(backwards.stderr).toContain('Argument "from" must be before "to"');
    } finally {
      delete process.env.DATA_DIR;
    }
  });

  it('reads a bracketed IPv6 host, as written in a URL, as the address itself', () => {
    expect(parseConfig({ server: { host: '[::1]' } }).server.host).toBe('::1');
    expect(parseConfig({}).server.host).toBe('127.0.0.1');
    // Brackets around nothing must not become '' (every interface).
    expect(() => parseConfig({ server: { host: '[]' } })).toThrow(
      'server.host: expected a host name or address',
    );
  });
});
