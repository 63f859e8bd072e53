import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, loadConfig, parseConfig } from '../../src/config';

function problemsOf(run: () => unknown): string[] {
  try {
    run();
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  throw new Error('expected a ConfigError');
}

describe('config', () => {
  it('fills the contract defaults', () => {
    const config = parseConfig({});
    expect(config.prometheus.labels).toEqual({
      project: 'cloud_project_name',
      machine: 'machine_name',
      host: 'host',
    });
    expect(config.prometheus.idleModes).toEqual(['idle']);
    expect(config.energy).toEqual({
      default: { busyWattsPerCore: 12, idleWattsPerCore: 1 },
      machines: {},
      pue: 1,
      memoryKwhPerGbHour: 0.000392,
      storageKwhPerTbHour: 0.0012,
      networkKwhPerGb: 0.001,
    });
    expect(config.carbon).toEqual({ source: 'static', gPerKwh: 200 });
    expect(config.store).toEqual({ kind: 'json', dataDir: './data' });
    expect(config.server).toEqual({
      host: '127.0.0.1',
      port: 4000,
      maxAnswerCostInFlight: 2_200_000,
      sendTimeoutMs: 120_000,
    });
    expect(config.schedule).toEqual({
      ingest: '5 * * * *',
      reconcile: '0 2 * * *',
      active: '* * * * *',
      summaries: '0 2 * * *',
      summaryEmails: '0 3 * * *',
    });
    expect(config.auth).toBeUndefined();
  });

  it('names the path of every problem', () => {
    expect(
      problemsOf(() =>
        parseConfig({
          energy: { default: { busyWattsPerCore: 0 }, machines: { X: { idleWattsPerCore: -1 } } },
          prometheus: { url: 'ftp://x', labels: { project: 'bad-name' }, typo: 1 },
          carbon: { source: 'sun' },
        }),
      ),
    ).toEqual([
      'prometheus.url: expected an http(s) URL',
      'prometheus.labels.project: expected a Prometheus label name',
      'prometheus.typo: unknown key',
      'energy.default.busyWattsPerCore: expected a positive number',
      'energy.machines.X.idleWattsPerCore: expected a number ≥ 0',
      'carbon.source: expected source "static", "carbon-intensity-api" or "csv"',
    ]);
  });

  it('fills the resource settings and names the path of each of their problems', () => {
    const config = parseConfig({ energy: { machines: { GPU: { embodied: { kgCo2eq: 1500 } } } } });
    expect(config.prometheus.excludeFstypes).toBe('tmpfs|devtmpfs|overlay|squashfs|ramfs|nsfs|proc|sysfs');
    expect(config.prometheus.excludeDevices).toBe('lo');
    expect(config.energy.machines.GPU.embodied).toEqual({ kgCo2eq: 1500, lifespanYears: 4, share: 1 });
    expect(
      problemsOf(() =>
        parseConfig({
          prometheus: { excludeFstypes: 'tmpfs|(', excludeDevices: 7 },
          energy: {
            memoryKwhPerGbHour: -1,
            storageKwhPerTbHour: 'x',
            machines: { GPU: { embodied: { lifespanYears: 0, share: 2, typo: 1 } } },
          },
        }),
      ),
    ).toEqual([
      expect.stringMatching(/^prometheus\.excludeFstypes: expected a regular expression \(.+\)$/),
      'prometheus.excludeDevices: expected a regular expression',
      'energy.machines.GPU.embodied.kgCo2eq: expected a number ≥ 0',
      'energy.machines.GPU.embodied.lifespanYears: expected a positive number',
      'energy.machines.GPU.embodied.share: expected a number in (0, 1]',
      'energy.machines.GPU.embodied.typo: unknown key',
      'energy.memoryKwhPerGbHour: expected a number ≥ 0',
      'energy.storageKwhPerTbHour: expected a number ≥ 0',
    ]);
  });

  it('accepts only cron expressions the scheduler can run', () => {
    expect(parseConfig({ schedule: { ingest: '*/15 * * * *', active: '30 * * * * *' } }).schedule).toEqual({
      ingest: '*/15 * * * *',
      reconcile: '0 2 * * *',
      active: '30 * * * * *',
      summaries: '0 2 * * *',
      summaryEmails: '0 3 * * *',
    });
    expect(
      problemsOf(() =>
        parseConfig({ schedule: { ingest: '61 * * * *', reconcile: '0 2 * *', active: '*/0 * * * *' } }),
      ),
    ).toEqual([
      'schedule.ingest: expected a valid cron expression (Constraint error, got value 61 expected range 0-59)',
      'schedule.reconcile: expected a cron expression of 5 or 6 fields',
      'schedule.active: expected a valid cron expression (Constraint error, cannot repeat at every 0 time.)',
    ]);
  });

  it('reads a file and lets the environment override it', () => {
    const dir = mkdtempSync(join(tmpdir(), 'cl-config-'));
    const file = join(dir, 'config.json');
    writeFileSync(file, JSON.stringify({ prometheus: { url: 'http://prom:9090' }, server: { port: 5000 } }));
    const config = loadConfig(file, { DATA_DIR: '/srv/data', PORT: '6000', HOST: '0.0.0.0' });
    expect(config.prometheus.url).toBe('http://prom:9090');
    expect(config.store.dataDir).toBe('/srv/data');
    expect(config.server).toMatchObject({ host: '0.0.0.0', port: 6000 });
    expect(loadConfig(file, { HOST: '::1' }).server).toMatchObject({ host: '::1', port: 5000 });
    expect(
      loadConfig(undefined, { CARBONLEDGER_CONFIG: file, PROMETHEUS_URL: 'http://other:9090' }).prometheus
        .url,
    ).toBe('http://other:9090');
  });

  it('reports an unreadable file, bad JSON and a bad environment value', () => {
    const dir = mkdtempSync(join(tmpdir(), 'cl-config-'));
    const bad = join(dir, 'bad.json');
    writeFileSync(bad, '{ "prometheus": ');
    expect(problemsOf(() => loadConfig(join(dir, 'absent.json'), {}))[0]).toMatch(
      /absent\.json: cannot be read/,
    );
    expect(problemsOf(() => loadConfig(bad, {}))[0]).toMatch(/bad\.json: not valid JSON/);
    expect(problemsOf(() => loadConfig(undefined, { PORT: 'eighty' }))).toEqual([
      'server.port (from PORT): expected a port number',
    ]);
    expect(problemsOf(() => loadConfig(undefined, { PROMETHEUS_URL: 'garbage' }))[0]).toMatch(
      /^prometheus\.url \(from PROMETHEUS_URL\): /,
    );
  });

  it('refuses coefficients whose products would overflow, naming the path', () => {
    expect(
      problemsOf(() =>
        parseConfig({
          carbon: { source: 'static', gPerKwh: 1e308 },
          energy: {
            default: { busyWattsPerCore: 1e308 },
            machines: { big: { idleWattsPerCore: 1e308 } },
            pue: 1e308,
          },
        }),
      ),
    ).toEqual([
      'energy.default.busyWattsPerCore: expected at most 10000 W per core',
      'energy.machines.big.idleWattsPerCore: expected at most 10000 W per core',
      'energy.pue: expected a number from 1 to 10',
      'carbon.gPerKwh: expected at most 10000 gCO2eq/kWh (the dirtiest grids emit about 1,000)',
    ]);
    expect(
      problemsOf(() =>
        parseConfig({ carbon: { source: 'carbon-intensity-api', fallbackGPerKwh: Infinity } }),
      ),
    ).toHaveLength(1);
  });

  it('refuses one token listed twice, two tokens of one name, and an admin token that is also scoped', () => {
    const sha256 = 'a'.repeat(64);
    expect(
      problemsOf(() =>
        parseConfig({
          auth: {
            tokens: [
              { name: 'isis', sha256, projects: ['ISIS'] },
              { name: 'other', sha256: 'b'.repeat(64), users: ['bob'] },
              { name: 'clf', sha256, projects: ['CLF'] },
            ],
          },
        }),
      ),
    ).toEqual(['auth.tokens.2.sha256: the same token as auth.tokens.0']);
    expect(
      problemsOf(() =>
        parseConfig({
          auth: {
            tokens: [
              { name: 'isis', sha256: 'a'.repeat(64), projects: ['ISIS'] },
              { name: 'clf', sha256: 'b'.repeat(64), projects: ['CLF'] },
              { name: 'isis', sha256: 'c'.repeat(64), projects: ['CLF'] },
            ],
          },
        }),
      ),
    ).toEqual(['auth.tokens.2.name: the same name as auth.tokens.0']);
    expect(
      problemsOf(() =>
        parseConfig({ auth: { tokens: [{ name: 'ops', sha256, role: 'admin', projects: ['ISIS'] }] } }),
      ),
    ).toEqual([
      'auth.tokens.0: an admin token sees everything: give role "admin" or projects/users, not both',
    ]);
    // An empty scope is no scope.
    expect(
      parseConfig({ auth: { tokens: [{ name: 'ops', sha256, role: 'admin', projects: [] }] } }).auth?.tokens,
    ).toHaveLength(1);
  });

  it('takes a PostgreSQL store, DATABASE_URL over store.url, and never echoes a URL it refuses', () => {
    expect(parseConfig({ store: { kind: 'postgres', url: 'postgres://db/ledger' } }).store).toEqual({
      kind: 'postgres',
      url: 'postgres://db/ledger',
      poolSize: 10,
      jobLeaseMs: 60_000,
      statementTimeoutMs: 30_000,
      dataDir: './data',
    });
    const env = { DATABASE_URL: 'postgresql://app:pw@primary/ledger' };
    expect(loadConfig(undefined, env).store).toMatchObject({ kind: 'postgres', url: env.DATABASE_URL });
    const dir = mkdtempSync(join(tmpdir(), 'carbonledger-config-'));
    const file = join(dir, 'config.json');
    writeFileSync(
      file,
      JSON.stringify({ store: { kind: 'postgres', url: 'postgres://a/b', readUrl: 'postgres://standby/b' } }),
    );
    expect(loadConfig(file, env).store).toMatchObject({
      url: env.DATABASE_URL,
      readUrl: 'postgres://standby/b',
    });
    const problems = problemsOf(() =>
      parseConfig({
        store: { kind: 'postgres', url: 'mysql://u:secret@h/db', readUrl: 'nope', poolSize: 0 },
      }),
    );
    expect(problems).toEqual([
      'store.url: expected a postgres:// URL',
      'store.readUrl: expected a postgres:// URL',
      'store.poolSize: expected a whole number from 1 to 1000',
    ]);
    expect(problems.join('\n')).not.toContain('secret');
    expect(problemsOf(() => parseConfig({ store: { kind: 'sqlite' } }))).toEqual([
      'store.kind: expected kind "json" or "postgres"',
    ]);
    expect(problemsOf(() => loadConfig(undefined, { DATABASE_URL: 'http://x' }))).toEqual([
      'store.url (from DATABASE_URL): expected a postgres:// URL',
    ]);
  });
  it("says the PostgreSQL store's limits, each problem once, and names DATABASE_URL where it lands", () => {
    const store = (fields: Record<string, unknown>) =>
      problemsOf(() => parseConfig({ store: { kind: 'postgres', url: 'postgres://db/ledger', ...fields } }));
    expect(store({ poolSize: 1001 })).toEqual(['store.poolSize: expected a whole number from 1 to 1000']);
    expect(store({ poolSize: 2.5 })).toEqual(['store.poolSize: expected a whole number from 1 to 1000']);
    const lease = 'store.jobLeaseMs: expected a whole number of milliseconds from 1000 to 3600000';
    expect(store({ jobLeaseMs: 500 })).toEqual([lease]);
    expect(store({ jobLeaseMs: 99_999_999 })).toEqual([lease]);
    expect(store({ jobLeaseMs: 0 })).toEqual([lease]);
    expect(store({ jobLeaseMs: -0.5 })).toEqual([lease]);
    // PostgreSQL's statement_timeout is an int4 of milliseconds: more would fail every connection.
    expect(store({ statementTimeoutMs: 1e12 })).toEqual([
      "store.statementTimeoutMs: expected a whole number of milliseconds from 1 to 2147483647 (PostgreSQL's limit for statement_timeout)",
    ]);
    expect(
      parseConfig({
        store: { kind: 'postgres', url: 'postgres://db/ledger', statementTimeoutMs: 2_147_483_647 },
      }).store,
    ).toMatchObject({ statementTimeoutMs: 2_147_483_647 });
    expect(problemsOf(() => parseConfig({ prometheus: { attempts: 11 } }))).toEqual([
      'prometheus.attempts: expected a whole number from 1 to 10',
    ]);
    // Node runs a longer timer after 1 ms: every request would time out at once.
    const timer = "expected a whole number of milliseconds from 1 to 2147483647 (Node's longest timer)";
    expect(
      problemsOf(() =>
        parseConfig({ prometheus: { timeoutMs: 3e9 }, server: { sendTimeoutMs: 2 ** 31 } }),
      ).sort(),
    ).toEqual([`prometheus.timeoutMs: ${timer}`, `server.sendTimeoutMs: ${timer}`]);

    const dir = mkdtempSync(join(tmpdir(), 'carbonledger-config-'));
    const file = join(dir, 'config.json');
    writeFileSync(file, JSON.stringify({ store: { kind: 'json', dataDir: join(dir, 'data') } }));
    expect(problemsOf(() => loadConfig(file, { DATABASE_URL: 'postgres://db/ledger' }))).toEqual([
      'store.url (from DATABASE_URL): unknown key (the config\'s store is "json", which has no url: ' +
        'unset DATABASE_URL, or set store.kind to "postgres" to use that database)',
    ]);
    // A store section that names no kind takes DATABASE_URL's database.
    writeFileSync(file, JSON.stringify({ store: { dataDir: join(dir, 'data') } }));
    expect(loadConfig(file, { DATABASE_URL: 'postgres://db/ledger' }).store).toMatchObject({
      kind: 'postgres',
      url: 'postgres://db/ledger',
    });
  });

  it('names the path of a bad summaries.email setting', () => {
    expect(() =>
      parseConfig({
        summaries: {
          email: { smtp: 'http://mail.example.org', from: 'not an address', users: { a: 'a@b' } },
        },
      }),
    ).toThrow(
      /summaries\.email\.smtp: expected an smtp:\/\/ or smtps:\/\/ URL[\s\S]*summaries\.email\.from: expected an email address[\s\S]*summaries\.email\.users\.a: expected an email address/,
    );
    expect(
      parseConfig({ summaries: { email: { smtp: 'smtp://127.0.0.1:25', from: 'ledger@example.org' } } })
        .summaries.email,
    ).toEqual({
      smtp: 'smtp://127.0.0.1:25',
      from: 'ledger@example.org',
      users: {},
      dashboardUrl: 'http://127.0.0.1:4000/',
      timeoutMs: 60_000,
    });
  });
});
