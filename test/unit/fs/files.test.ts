import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { listNames, mapLimit, putFile, writeFileAtomic } from '../../../src/fs/files';

describe('mapLimit', () => {
  it('keeps results in the order of the items, with at most `limit` running', async () => {
    let running = 0;
    let most = 0;
    const results = await mapLimit([5, 1, 4, 2, 3], 2, async (ms) => {
      most = Math.max(most, ++running);
      await new Promise((resolve) => setTimeout(resolve, ms));
      running--;
      return ms * 10;
    });
    expect(results).toEqual([50, 10, 40, 20, 30]);
    expect(most).toBe(2);
  });

  it('starts no new item after a failure, and throws it', async () => {
    const started: number[] = [];
    const run = mapLimit([1, 2, 3, 4], 1, async (n) => {
      started.push(n);
      if (n === 2) throw new Error('two');
      return n;
    });
    await expect(run).rejects.toThrow('two');
    expect(started).toEqual([1, 2]);
  });
});

describe('atomic files', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'carbonledger-files-'));
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  it('creates missing directories, replaces whole files and leaves no temporary file', async () => {
    const path = join(dir, 'a', 'b', 'file.json');
    await writeFileAtomic(path, 'one');
    await writeFileAtomic(path, 'two');
    expect(await readFile(path, 'utf8')).toBe('two');
    expect(await readdir(join(dir, 'a', 'b'))).toEqual(['file.json']);
  });

  it('removes the temporary file when the rename fails', async () => {
    await writeFileAtomic(join(dir, 'taken', 'x'), 'x');
    await expect(writeFileAtomic(join(dir, 'taken'), 'y')).rejects.toThrow();
    expect(await readdir(dir)).toEqual(['taken']);
  });

  it('removes a file for null, and lists names of one kind', async () => {
    await putFile(join(dir, 'gone.json'), 'x');
    await putFile(join(dir, 'gone.json'), null);
    await putFile(join(dir, 'never.json'), null);
    await writeFileAtomic(join(dir, 'sub', 'f'), 'x');
    expect(await listNames(dir, 'directory')).toEqual(['sub']);
    expect(await listNames(join(dir, 'sub'), 'file')).toEqual(['f']);
    expect(await listNames(join(dir, 'missing'), 'file')).toEqual([]);
  });
});
