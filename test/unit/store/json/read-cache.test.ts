import { mkdtemp, mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { jsonStoreVersion, ReadCache } from '../../../../src/store/json/read-cache';

describe('ReadCache', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'read-cache-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  const counting = (path: string) => {
    let reads = 0;
    const read = async () => {
      reads++;
      const { readFile } = await import('node:fs/promises');
      const text = await readFile(path, 'utf8').catch(() => null);
      return text === null ? null : { value: JSON.parse(text) as unknown, chars: text.length };
    };
    return { read, reads: () => reads };
  };

  it('reads a file once while it stays the same file, and again once it is replaced', async () => {
    const path = join(dir, 'a.json');
    await writeFile(path, '{"n":1}');
    const cache = new ReadCache(1 << 20);
    const file = counting(path);
    expect(await cache.get(path, file.read)).toEqual({ n: 1 });
    expect(await cache.get(path, file.read)).toEqual({ n: 1 });
    expect(file.reads()).toBe(1);

    // As the store writes: a new file renamed over the old one.
    await writeFile(join(dir, '.a.tmp'), '{"n":2}');
    await rename(join(dir, '.a.tmp'), path);
    expect(await cache.get(path, file.read)).toEqual({ n: 2 });
    expect(file.reads()).toBe(2);
  });

  it('answers null for a missing file and forgets one that went', async () => {
    const path = join(dir, 'b.json');
    const cache = new ReadCache(1 << 20);
    const file = counting(path);
    expect(await cache.get(path, file.read)).toBeNull();
    await writeFile(path, '{"n":1}');
    expect(await cache.get(path, file.read)).toEqual({ n: 1 });
    await rm(path);
    expect(await cache.get(path, file.read)).toBeNull();
  });
});

describe('jsonStoreVersion', () => {
  it('gives no version while the store is changing, then one that a later change alters', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'store-version-'));
    try {
      await mkdir(join(dataDir, 'ledger', '2025'), { recursive: true });
      expect(jsonStoreVersion(dataDir)).toBeUndefined();
      const settled = jsonStoreVersion(dataDir, 0);
      expect(settled).toBeDefined();
      expect(jsonStoreVersion(dataDir, 0)).toBe(settled);
      // Past the file system's clock tick, as a real batch always is (it syncs several files).
      await new Promise((resolve) => setTimeout(resolve, 50));
      await writeFile(join(dataDir, 'ledger', '2025', '2025-01.json'), '{}');
      expect(jsonStoreVersion(dataDir, 0)).not.toBe(settled);
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});
