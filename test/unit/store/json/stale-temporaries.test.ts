import { spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { openJsonStore } from '../../../../src/store/json';
import { processIsRunning, removeStaleTemporaries, writeFileAtomic } from '../../../../src/fs/files';

/** The pid of a process that has exited: no process runs with it now (bar reuse, unlikely in a test). */
function deadPid(): number {
  const child = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))']);
  return Number(child.stdout.toString());
}

describe('temporary files a killed writer left', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'carbonledger-stale-'));
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  it('leave nothing behind a write that completes; a process is known to run or not', async () => {
    await writeFileAtomic(join(dir, 'file.json'), 'x');
    expect(await readdir(dir)).toEqual(['file.json']);
    expect(processIsRunning(process.pid)).toBe(true);
    expect(processIsRunning(deadPid())).toBe(false);
  });

  it('go when their process is gone or is this one, and stay while another live process may be writing them', async () => {
    const dead = deadPid();
    // The parent of jest's worker: alive for the whole test.
    const alive = process.ppid;
    await writeFile(join(dir, `.2025-09-21.json.${dead}-0123456789ab.tmp`), '{"half');
    await writeFile(join(dir, `.2025-09.month.json.${process.pid}-0123456789ab.tmp`), '{"half');
    await writeFile(join(dir, `.2025-09-22.json.${alive}-0123456789ab.tmp`), '{"half');
    await writeFile(join(dir, '2025-09-21.json'), '{}');
    await writeFile(join(dir, '.hidden-but-not-ours.tmp'), 'x');
    expect(await removeStaleTemporaries(dir)).toBe(2);
    expect((await readdir(dir)).sort()).toEqual(
      [`.2025-09-22.json.${alive}-0123456789ab.tmp`, '.hidden-but-not-ours.tmp', '2025-09-21.json'].sort(),
    );
  });

  it('are removed when a writer opens the store: beside the journal, in the ledger, and in the months the journal names', async () => {
    const dead = deadPid();
    const stale = (name: string) => `.${name}.${dead}-0123456789ab.tmp`;
    const yearDir = join(dir, 'usage/project/alpha/2025');
    await mkdir(yearDir, { recursive: true });
    await mkdir(join(dir, 'ledger/2025'), { recursive: true });
    await writeFile(join(dir, stale('journal.json')), '[');
    await writeFile(join(dir, 'ledger/2025', stale('2025-09.json')), '{');
    await writeFile(join(yearDir, stale('2025-09-21.json')), '{');
    await writeFile(join(dir, 'usage/project/alpha', stale('2025.year.json')), '{');
    await writeFile(
      join(dir, 'journal.json'),
      JSON.stringify({ months: [{ level: 'PROJECT', key: 'alpha', month: '2025-09' }] }),
    );
    const store = await openJsonStore({ dataDir: dir });
    await (await store.openWriter({ purpose: 'the next ingest' })).release();
    await store.close();
    const left: string[] = [];
    const walk = async (path: string): Promise<void> => {
      for (const entry of await readdir(path, { withFileTypes: true })) {
        if (entry.isDirectory()) await walk(join(path, entry.name));
        else left.push(entry.name);
      }
    };
    await walk(dir);
    expect(left.filter((name) => name.endsWith('.tmp'))).toEqual([]);
    expect(left).not.toContain('journal.json');
  });
});
