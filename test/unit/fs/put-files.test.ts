import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { putFiles } from '../../../src/fs/files';

describe('putFiles', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'carbonledger-put-files-'));
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  it('creates directories, replaces and removes files, and leaves no temporary file', async () => {
    await mkdir(join(dir, 'old'));
    await writeFile(join(dir, 'old', 'gone.json'), 'x');
    await writeFile(join(dir, 'old', 'kept.json'), 'before');
    const dirs = new Set<string>();
    await putFiles(
      [
        { path: join(dir, 'new', 'deep', 'a.json'), text: 'a' },
        { path: join(dir, 'old', 'kept.json'), text: 'after' },
        { path: join(dir, 'old', 'gone.json'), text: null },
        { path: join(dir, 'old', 'never.json'), text: null },
      ],
      2,
      dirs,
    );
    expect(await readFile(join(dir, 'new', 'deep', 'a.json'), 'utf8')).toBe('a');
    expect(await readFile(join(dir, 'old', 'kept.json'), 'utf8')).toBe('after');
    expect(await readdir(join(dir, 'old'))).toEqual(['kept.json']);
    expect(await readdir(join(dir, 'new', 'deep'))).toEqual(['a.json']);
    // Every directory whose entries changed, the new ones' parents included, is left to sync.
    expect([...dirs].sort()).toEqual(
      [dir, join(dir, 'new'), join(dir, 'new', 'deep'), join(dir, 'old')].sort(),
    );
  });

  it('leaves the old file and no temporary file when a rename fails', async () => {
    await mkdir(join(dir, 'taken', 'x'), { recursive: true });
    await writeFile(join(dir, 'taken', 'x', 'inside'), 'x');
    await expect(putFiles([{ path: join(dir, 'taken', 'x'), text: 'y' }], 4)).rejects.toThrow();
    expect(await readdir(join(dir, 'taken'))).toEqual(['x']);
    expect(await readFile(join(dir, 'taken', 'x', 'inside'), 'utf8')).toBe('x');
  });
});
