import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';

import { acquireIngestLock, INGEST_LOCK_FILE } from '../../../../src/store/json/lock';
import { silentLogger } from '../../../../src/log';
import { openJsonStore } from '../../../../src/store/json';

/**
 * Opening the store repairs a batch that stopped part-way, unless an ingestion holds the lock:
 * then the journal is that ingestion's batch in progress, and the holder repairs it itself.
 */
describe('opening the store beside a journal', () => {
  let dataDir: string;
  const journal = JSON.stringify({ months: [{ level: 'PROJECT', key: 'alpha', month: '2025-09' }] });
  const staleMonth = JSON.stringify({
    cloud_project_name: 'alpha',
    month: '2025-09',
    totals: { all: {} },
    days: {},
  });

  beforeEach(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'carbonledger-open-'));
    await mkdir(join(dataDir, 'usage/project/alpha/2025'), { recursive: true });
    // A month roll-up left behind with no day under it: a repair removes it.
    await writeFile(join(dataDir, 'usage/project/alpha/2025/2025-09.month.json'), staleMonth);
    await writeFile(join(dataDir, 'journal.json'), journal);
  });
  afterEach(() => rm(dataDir, { recursive: true, force: true }));

  it('leaves it alone while the lock file exists, and the lock holder’s repair handles it', async () => {
    await writeFile(join(dataDir, INGEST_LOCK_FILE), '{}');
    const store = await openJsonStore({ dataDir });
    expect(await readFile(join(dataDir, 'journal.json'), 'utf8')).toBe(journal);
    expect(await readFile(join(dataDir, 'usage/project/alpha/2025/2025-09.month.json'), 'utf8')).toBe(
      staleMonth,
    );
    await store.repairQuarantining();
    await expect(readFile(join(dataDir, 'journal.json'))).rejects.toMatchObject({ code: 'ENOENT' });
    await store.close();
  });

  it('takes over a lock its holder left when it was killed, repairs, and leaves no lock', async () => {
    const dead = spawnSync(process.execPath, ['-e', '']).pid!;
    const holder = { pid: dead, hostname: hostname(), startedAt: '2025-09-21T00:00:00Z', token: 'killed' };
    await writeFile(join(dataDir, INGEST_LOCK_FILE), JSON.stringify(holder));
    const store = await openJsonStore({ dataDir });
    await expect(readFile(join(dataDir, 'journal.json'))).rejects.toMatchObject({ code: 'ENOENT' });
    await expect(
      readFile(join(dataDir, 'usage/project/alpha/2025/2025-09.month.json')),
    ).rejects.toMatchObject({ code: 'ENOENT' });
    expect(existsSync(join(dataDir, INGEST_LOCK_FILE))).toBe(false);
    await store.close();
  });

  it('leaves it alone while this very process holds the lock (an ingestion opening its store)', async () => {
    const lock = await acquireIngestLock(dataDir, silentLogger);
    try {
      const store = await openJsonStore({ dataDir });
      expect(await readFile(join(dataDir, 'journal.json'), 'utf8')).toBe(journal);
      await store.close();
    } finally {
      await lock.release();
    }
  });

  it('removes the lock temporary of a process killed before it could link the lock', async () => {
    const dead = spawnSync(process.execPath, ['-e', '']).pid!;
    const temporary = `.ingest.lock.${dead}.0123456789ab.tmp`;
    await writeFile(join(dataDir, temporary), '{}');
    const store = await openJsonStore({ dataDir });
    expect(existsSync(join(dataDir, temporary))).toBe(false);
    await store.close();
  });

  it('repairs it when no ingestion holds the lock', async () => {
    const store = await openJsonStore({ dataDir });
    await expect(readFile(join(dataDir, 'journal.json'))).rejects.toMatchObject({ code: 'ENOENT' });
    await expect(
      readFile(join(dataDir, 'usage/project/alpha/2025/2025-09.month.json')),
    ).rejects.toMatchObject({
      code: 'ENOENT',
    });
    await store.close();
  });
});
