import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';

import { acquireIngestLock, INGEST_LOCK_FILE } from '../../../../src/store/json/lock';
import { silentLogger } from '../../../../src/log';
import { openJsonStore } from '../../../../src/store/json';
import { StoreLockedError } from '../../../../src/store/store';
import { treeStamp } from '../../../support/store-files';

/**
 * Opening the store only reads, whatever a killed writer left (a journal, a lock, temporaries):
 * a server or an export opens a store it cannot write (a full disk, a snapshot). The next writer
 * repairs it when it opens.
 */
describe('opening a store a writer stopped part-way', () => {
  let dataDir: string;
  const journal = JSON.stringify({ months: [{ level: 'PROJECT', key: 'alpha', month: '2025-09' }] });
  const monthPath = () => join(dataDir, 'usage/project/alpha/2025/2025-09.month.json');
  const deadPid = () => spawnSync(process.execPath, ['-e', '']).pid!;

  beforeEach(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'carbonledger-open-'));
    await mkdir(join(dataDir, 'usage/project/alpha/2025'), { recursive: true });
    // A month roll-up left behind with no day under it: a repair removes it.
    await writeFile(
      monthPath(),
      JSON.stringify({ cloud_project_name: 'alpha', month: '2025-09', totals: { all: {} }, days: {} }),
    );
    await writeFile(join(dataDir, 'journal.json'), journal);
  });
  afterEach(() => rm(dataDir, { recursive: true, force: true }));

  it('writes nothing, and reads the journal’s months from their days', async () => {
    const holder = {
      pid: deadPid(),
      hostname: hostname(),
      startedAt: '2025-09-21T00:00:00Z',
      token: 'killed',
    };
    await writeFile(join(dataDir, INGEST_LOCK_FILE), JSON.stringify(holder));
    await writeFile(join(dataDir, `.ingest.lock.${deadPid()}.0123456789ab.tmp`), '{}');
    const before = await treeStamp(dataDir);

    const store = await openJsonStore({ dataDir, log: silentLogger });
    expect(await store.readMonths('PROJECT', '2025-09', ['alpha'])).toEqual([null]);
    expect(await store.readYears('PROJECT', '2025', ['alpha'])).toEqual([null]);
    expect(await store.listKeys('PROJECT')).toEqual(['alpha']);
    expect(await store.readLedger(0, Date.parse('2026-01-01T00:00:00Z'))).toEqual(new Map());
    expect(await store.version()).toBeUndefined();
    await store.checkReadable();
    await store.close();

    expect(await treeStamp(dataDir)).toEqual(before);
  });

  it('opens a data directory that does not exist without making it', async () => {
    const missing = join(dataDir, 'not-yet');
    const store = await openJsonStore({ dataDir: missing });
    await store.checkReadable();
    expect(await store.listKeys('PROJECT')).toEqual([]);
    await store.close();
    expect(existsSync(missing)).toBe(false);
  });

  it('is repaired by the next writer, which takes over the lock a killed writer left', async () => {
    const dead = deadPid();
    const holder = { pid: dead, hostname: hostname(), startedAt: '2025-09-21T00:00:00Z', token: 'killed' };
    await writeFile(join(dataDir, INGEST_LOCK_FILE), JSON.stringify(holder));
    const temporary = `.ingest.lock.${dead}.0123456789ab.tmp`;
    await writeFile(join(dataDir, temporary), '{}');
    const store = await openJsonStore({ dataDir });

    const writer = await store.openWriter({ purpose: 'test' });
    await expect(readFile(join(dataDir, 'journal.json'))).rejects.toMatchObject({ code: 'ENOENT' });
    await expect(readFile(monthPath())).rejects.toMatchObject({ code: 'ENOENT' });
    expect(existsSync(join(dataDir, temporary))).toBe(false);
    expect(await store.version()).toEqual(expect.any(String));
    await writer.release();
    await store.close();
    expect(existsSync(join(dataDir, INGEST_LOCK_FILE))).toBe(false);
  });

  it('is left alone by a writer refused while another process holds the lock', async () => {
    const lock = await acquireIngestLock(dataDir, silentLogger, { purpose: 'another ingest' });
    try {
      const store = await openJsonStore({ dataDir });
      await expect(store.openWriter({ purpose: 'test' })).rejects.toBeInstanceOf(StoreLockedError);
      expect(await readFile(join(dataDir, 'journal.json'), 'utf8')).toBe(journal);
      await store.close();
    } finally {
      await lock.release();
    }
  });
});
