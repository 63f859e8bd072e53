import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { main } from '../../../src/cli';
import { acquireIngestLock } from '../../../src/store/json/lock';
import { silentLogger } from '../../../src/log';

describe('carbonledger ingest and the dataDir lock', () => {
  let dataDir: string;
  let stderr: string[];
  let restore: () => void;

  beforeEach(() => {
    dataDir = mkdtempSync(join(tmpdir(), 'cl-cli-lock-'));
    stderr = [];
    const spy = jest.spyOn(process.stderr, 'write').mockImplementation((chunk) => {
      stderr.push(String(chunk));
      return true;
    });
    restore = () => spy.mockRestore();
    process.env.DATA_DIR = dataDir;
    // Nothing listens there: were the lock not checked first, the hours would fail (exit 3).
    process.env.PROMETHEUS_URL = 'http://127.0.0.1:9';
  });

  afterEach(() => {
    restore();
    delete process.env.DATA_DIR;
    delete process.env.PROMETHEUS_URL;
    rmSync(dataDir, { recursive: true, force: true });
  });

  const ingest = (...extra: string[]) =>
    main(['ingest', '--from', '2026-01-01T00:00Z', '--to', '2026-01-01T02:00Z', ...extra]);

  it('refuses with exit 1 naming the holder while another ingestion holds the lock, and writes nothing', async () => {
    const held = await acquireIngestLock(dataDir, silentLogger, { purpose: 'a test holding the lock' });
    try {
      expect(await ingest('--lock-wait', '0')).toBe(1);
    } finally {
      await held.release();
    }
    expect(stderr.join('')).toMatch(
      /carbonledger ingest: ingestion is locked: .*ingest\.lock is held by pid \d+/,
    );
    expect(existsSync(join(dataDir, 'ledger'))).toBe(false);
  });

  it('takes the lock once it is free, and lets it go when done', async () => {
    expect(await ingest('--lock-wait', '0')).toBe(3);
    expect(existsSync(join(dataDir, 'ledger'))).toBe(true);
    expect(existsSync(join(dataDir, 'ingest.lock'))).toBe(false);
  });

  it('rejects a --lock-wait that is not whole seconds with exit 2', async () => {
    expect(await ingest('--lock-wait', 'soon')).toBe(2);
    expect(stderr.join('')).toContain('--lock-wait: "soon" is not a whole number of seconds');
  });
});
