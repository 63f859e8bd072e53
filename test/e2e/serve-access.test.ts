import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { hashToken } from '../../src/auth/tokens';
import { parseConfig } from '../../src/config';
import { fixedClock } from '../../src/domain/clock';
import { silentLogger } from '../../src/log';
import { ingestRange } from '../../src/ingest/run';
import { startService, type RunningService } from '../../src/serve';
import { openJsonStore } from '../../src/store/json';
import { directIngestDeps } from '../support/fake-ingest';

const NOW = Date.parse('2026-11-27T00:00:00Z');
const CLF_TOKEN = 'clf-token-for-tests';
const ADMIN_TOKEN = 'admin-token-for-tests';

/** The served API with demo data ingested through the real ingestion path, and two tokens. */
describe('serve: a project-scoped token and INSTANCE series', () => {
  let dataDir: string;
  let service: RunningService;

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'carbonledger-access-'));
    const config = parseConfig({
      store: { dataDir },
      server: { port: 0 },
      prometheus: { url: 'http://127.0.0.1:9', attempts: 1 },
      auth: {
        tokens: [
          { name: 'ops', sha256: hashToken(ADMIN_TOKEN).toString('hex'), role: 'admin' },
          { name: 'clf', sha256: hashToken(CLF_TOKEN).toString('hex'), projects: ['CLF'] },
        ],
      },
    });
    service = await startService({
      config,
      log: silentLogger,
      schedule: false,
      demo: true,
      demoDays: 3,
      clock: fixedClock(NOW),
    });
  });

  afterAll(async () => {
    await service.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  async function ask(token: string, query: string) {
    const response = await fetch(service.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify({ query }),
    });
    return (await response.json()) as {
      data?: Record<string, unknown> | null;
      errors?: Array<{ message: string; extensions: { code: string } }>;
    };
  }

  const instanceSeries = (key: string) =>
    `{ usageSeries(level: INSTANCE, key: "${key}", from: "2026-11-26", to: "2026-11-27", granularity: DAY) { total { totalKwh } } }`;

  it('lists only the instances that ran under its projects, where an admin sees all', async () => {
    const admin = await ask(ADMIN_TOKEN, '{ usageKeys(level: INSTANCE) }');
    expect(admin.data!.usageKeys).toHaveLength(10);
    const scoped = await ask(CLF_TOKEN, '{ usageKeys(level: INSTANCE) }');
    expect(scoped.data!.usageKeys).toEqual(['clf-notebook-01:9100', 'clf-sim-01:9100', 'clf-sim-02:9100']);
  });

  it('reads the series of its own instance and is refused another project’s', async () => {
    const own = await ask(CLF_TOKEN, instanceSeries('clf-sim-01:9100'));
    expect(own.errors).toBeUndefined();
    expect((own.data!.usageSeries as { total: { totalKwh: number } }).total.totalKwh).toBeGreaterThan(0);

    const other = await ask(CLF_TOKEN, instanceSeries('idaaas-matlab-01:9100'));
    expect(other.errors?.[0].extensions.code).toBe('FORBIDDEN');
    expect(other.errors?.[0].message).toContain('idaaas-matlab-01:9100');
  });

  it('loses an instance the moment an ingestion records it under another project', async () => {
    // Both caches warm: the store version settled, the answer and the index read under it.
    const reader = await openJsonStore({ dataDir });
    while ((await reader.version()) === undefined) await new Promise((resolve) => setTimeout(resolve, 200));
    await reader.close();
    for (let i = 0; i < 2; i++)
      expect((await ask(CLF_TOKEN, instanceSeries('clf-sim-02:9100'))).errors).toBeUndefined();
    expect((await ask(CLF_TOKEN, '{ usageKeys(level: INSTANCE) }')).data!.usageKeys).toContain(
      'clf-sim-02:9100',
    );

    // An ingestion of a later hour (another process's store, as `carbonledger ingest` is) finds the
    // instance under IDAaaS too.
    const hour = NOW;
    const store = await openJsonStore({ dataDir, log: silentLogger });
    const labels = { cloud_project_name: 'IDAaaS', machine_name: 'sim', instance: 'clf-sim-02:9100' };
    const source = {
      fetchHours: async () =>
        new Map([
          [
            hour,
            {
              status: 'ok' as const,
              rows: [{ hour, instance: labels.instance, labels, busyCpuSeconds: 60, idleCpuSeconds: 0 }],
            },
          ],
        ]),
    };
    try {
      await ingestRange(directIngestDeps(store, source), hour, hour + 3_600_000);
    } finally {
      await store.close();
    }

    const refused = await ask(CLF_TOKEN, instanceSeries('clf-sim-02:9100'));
    expect(refused.errors?.[0].extensions.code).toBe('FORBIDDEN');
    expect((await ask(CLF_TOKEN, '{ usageKeys(level: INSTANCE) }')).data!.usageKeys).not.toContain(
      'clf-sim-02:9100',
    );
  });
});
