import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { parseConfig } from '../../src/config';
import { fixedClock } from '../../src/domain/clock';
import { acquireIngestLock } from '../../src/store/json/lock';
import { silentLogger } from '../../src/log';
import { startService, type RunningService } from '../../src/serve';

const NOW = Date.parse('2026-11-27T10:20:00Z');

describe('serve with its schedule', () => {
  let dataDir: string;
  beforeEach(() => {
    dataDir = mkdtempSync(join(tmpdir(), 'cl-serve-schedule-'));
  });
  afterEach(() => rmSync(dataDir, { recursive: true, force: true }));

  it('reports the last ok hour in /metrics from start-up, and stops cleanly', async () => {
    const config = parseConfig({
      store: { dataDir },
      server: { port: 0 },
      prometheus: { url: 'http://127.0.0.1:9', attempts: 1 },
      // The summaries' jobs register beside the ingestion's.
      summaries: { email: { smtp: 'smtp://127.0.0.1:9', from: 'ledger@example.org' } },
    });
    const service = await startService({
      config,
      log: silentLogger,
      schedule: true,
      demo: true,
      demoDays: 1,
      clock: fixedClock(NOW),
    });
    try {
      const metrics = await (await fetch(service.url.replace('/graphql', '/metrics'))).text();
      // The demo ingests up to the last whole hour before NOW: 09:00 is the newest ok hour.
      const lastOk = Date.parse('2026-11-27T09:00:00Z') / 1000;
      expect(metrics).toContain(`carbonledger_last_ok_hour_timestamp_seconds ${lastOk}`);
    } finally {
      await service.close();
    }
  });

  it('does not seed the demo while another ingestion holds the dataDir lock: it waits, then seeds', async () => {
    const held = await acquireIngestLock(dataDir, silentLogger, { purpose: 'a test holding the lock' });
    let started: Promise<RunningService> | undefined;
    try {
      const config = parseConfig({ store: { dataDir }, server: { port: 0 } });
      started = startService({ config, log: silentLogger, schedule: false, demo: true, demoDays: 1 });
      let settled = false;
      void started.then(
        () => (settled = true),
        () => (settled = true),
      );
      await new Promise((resolve) => setTimeout(resolve, 1500));
      expect(settled).toBe(false);
      expect(existsSync(join(dataDir, 'usage'))).toBe(false);
    } finally {
      await held.release();
    }
    const service = await started;
    try {
      expect(existsSync(join(dataDir, 'usage'))).toBe(true);
    } finally {
      await service.close();
    }
  });

  it('refuses a bad cron at start-up, naming it: in the config, and in the service should one get past it', async () => {
    expect(() =>
      parseConfig({ store: { dataDir }, server: { port: 0 }, schedule: { reconcile: '0 99 * * *' } }),
    ).toThrow(/schedule\.reconcile: expected a valid cron expression/);
    const valid = parseConfig({ store: { dataDir }, server: { port: 0 } });
    const config = { ...valid, schedule: { ...valid.schedule, reconcile: '0 99 * * *' } };
    await expect(startService({ config, log: silentLogger, schedule: true, demo: false })).rejects.toThrow(
      /0 99 \* \* \*/,
    );
  });
});
