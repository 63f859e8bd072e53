import { mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ReadCache } from '../../../../src/store/json/read-cache';

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

  it('shares one read among requests that miss the same file at once, and reads a replaced file afresh', async () => {
    const path = join(dir, 'a.json');
    await writeFile(path, '{"n":1}');
    const cache = new ReadCache(1 << 20);
    const file = counting(path);
    const burst = await Promise.all(Array.from({ length: 10 }, () => cache.get(path, file.read)));
    expect(burst).toEqual(Array.from({ length: 10 }, () => ({ n: 1 })));
    expect(file.reads()).toBe(1);

    await writeFile(join(dir, '.a.tmp'), '{"n":2}');
    await rename(join(dir, '.a.tmp'), path);
    const [a, b] = await Promise.all([cache.get(path, file.read), cache.get(path, file.read)]);
    expect([a, b, file.reads()]).toEqual([{ n: 2 }, { n: 2 }, 2]);
  });

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
