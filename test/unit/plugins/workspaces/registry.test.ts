import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError } from '../../../../src/config';
import {
  createWorkspaceRegistry,
  emptyRegistry,
  loadWorkspaceRegistry,
  WorkspaceRecordSchema,
} from '../../../../src/plugins/workspaces/registry';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'carbonledger-registry-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function registryFile(name: string, content: unknown): Promise<string> {
  const file = join(dir, name);
  await writeFile(file, typeof content === 'string' ? content : JSON.stringify(content));
  return file;
}

async function problemsLoading(file: string): Promise<string[]> {
  const err = await loadWorkspaceRegistry(file).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ConfigError);
  return (err as ConfigError).problems;
}

const HOUR = 3_600_000;
const t = (iso: string) => Date.parse(iso);

const records = [
  {
    hostname: 'ws-01',
    owner: 'alice',
    experiment: 'RB2510001',
    created_time: '2025-09-01T09:30:00Z',
    deleted_time: '2025-09-03T12:00:00Z',
  },
  // ws-01 is reused by another owner once alice's workspace is deleted.
  {
    hostname: 'ws-01',
    owner: 'bob',
    experiment: null,
    created_time: '2025-09-03T12:00:00Z',
    deleted_time: null,
  },
  {
    hostname: 'ws-02',
    owner: 'carol',
    experiment: 'RB2510002',
    created_time: '2025-09-02T00:00:00+02:00',
    deleted_time: '2025-09-02T06:00:00.000000',
  },
];

describe('loadWorkspaceRegistry', () => {
  it('finds the workspace whose [created_time, deleted_time) holds the hour start', async () => {
    const registry = await loadWorkspaceRegistry(await registryFile('ok.json', records));

    // created_time is inclusive, to the millisecond; 09:00 is before alice's workspace existed.
    expect(registry.lookup('ws-01', t('2025-09-01T09:00:00Z'))).toBeUndefined();
    expect(registry.lookup('ws-01', t('2025-09-01T09:30:00Z'))).toEqual({
      owner: 'alice',
      experiment: 'RB2510001',
      deletedAt: t('2025-09-03T12:00:00Z'),
    });
    expect(registry.lookup('ws-01', t('2025-09-01T10:00:00Z'))).toEqual({
      owner: 'alice',
      experiment: 'RB2510001',
      deletedAt: t('2025-09-03T12:00:00Z'),
    });
    expect(registry.lookup('ws-01', t('2025-09-03T11:00:00Z'))).toEqual({
      owner: 'alice',
      experiment: 'RB2510001',
      deletedAt: t('2025-09-03T12:00:00Z'),
    });
    // deleted_time is exclusive: at 12:00 the host is bob's, with no experiment, and stays his.
    expect(registry.lookup('ws-01', t('2025-09-03T12:00:00Z'))).toEqual({
      owner: 'bob',
      experiment: null,
      deletedAt: null,
    });
    expect(registry.lookup('ws-01', t('2030-01-01T00:00:00Z'))).toEqual({
      owner: 'bob',
      experiment: null,
      deletedAt: null,
    });
    expect(registry.lookup('ws-03', t('2025-09-03T12:00:00Z'))).toBeUndefined();
  });

  it('reads offsets, and takes a time without one as UTC', async () => {
    const registry = await loadWorkspaceRegistry(await registryFile('offsets.json', records));
    expect(registry.lookup('ws-02', t('2025-09-01T21:00:00Z'))).toBeUndefined();
    expect(registry.lookup('ws-02', t('2025-09-01T22:00:00Z'))).toEqual({
      owner: 'carol',
      experiment: 'RB2510002',
      deletedAt: t('2025-09-02T06:00:00Z'),
    });
    expect(registry.lookup('ws-02', t('2025-09-02T05:00:00Z'))).toEqual({
      owner: 'carol',
      experiment: 'RB2510002',
      deletedAt: t('2025-09-02T06:00:00Z'),
    });
    expect(registry.lookup('ws-02', t('2025-09-02T06:00:00Z'))).toBeUndefined();
  });

  it('names the field and the record of every problem, and the file', async () => {
    const file = await registryFile('bad.json', [
      records[0],
      { ...records[1], created_time: 'yesterday' },
      { hostname: '', owner: 7, created_time: '2025-09-01T00:00:00Z', deleted_time: null },
      { ...records[0], deleted_time: '2025-09-01T09:00:00Z' },
    ]);
    expect(await problemsLoading(file)).toEqual([
      `workspaces.file[1].created_time: expected an ISO date-time (${file})`,
      `workspaces.file[2].hostname: expected a host name (${file})`,
      `workspaces.file[2].owner: expected a string or null (${file})`,
      `workspaces.file[2].experiment: expected a string or null (${file})`,
      `workspaces.file[3].deleted_time: expected a time not before created_time (${file})`,
    ]);
  });

  it('says when the file is not an array, not JSON, or cannot be read', async () => {
    const object = await registryFile('object.json', { workspaces: records });
    expect(await problemsLoading(object)).toEqual([
      `workspaces.file: expected a JSON array of workspaces (${object})`,
    ]);

    const notJson = await registryFile('not.json', '[{"hostname": ');
    expect(await problemsLoading(notJson)).toEqual([
      expect.stringMatching(new RegExp(`^workspaces\\.file: ${notJson} is not valid JSON \\(.+\\)$`)),
    ]);

    const missing = join(dir, 'missing.json');
    expect(await problemsLoading(missing)).toEqual([
      expect.stringMatching(new RegExp(`^workspaces\\.file: cannot read ${missing} \\(ENOENT.*\\)$`)),
    ]);
  });

  it('lists the first 20 problems of a file full of them', async () => {
    const file = await registryFile(
      'many.json',
      Array.from({ length: 30 }, () => ({ ...records[0], created_time: 'x' })),
    );
    const problems = await problemsLoading(file);
    expect(problems).toHaveLength(21);
    expect(problems[20]).toBe(`workspaces.file: 10 more problems (${file})`);
  });
});

describe('createWorkspaceRegistry', () => {
  const parse = (record: object) => WorkspaceRecordSchema.parse(record);

  it('finds the right tenancy among many on one host, in any order', () => {
    const tenancies = Array.from({ length: 100 }, (_, i) =>
      parse({
        hostname: 'busy-host',
        owner: `user-${i}`,
        experiment: null,
        created_time: new Date(Date.UTC(2025, 0, 1) + i * 10 * HOUR).toISOString(),
        deleted_time: new Date(Date.UTC(2025, 0, 1) + (i * 10 + 8) * HOUR).toISOString(),
      }),
    ).reverse();
    const registry = createWorkspaceRegistry(tenancies);
    const start = Date.UTC(2025, 0, 1);
    expect(registry.lookup('busy-host', start + 427 * HOUR)?.owner).toBe('user-42');
    // Hours 8 and 9 of each ten are gaps between tenancies.
    expect(registry.lookup('busy-host', start + 428 * HOUR)).toBeUndefined();
    expect(registry.lookup('busy-host', start + 999 * HOUR)).toBeUndefined();
    expect(registry.lookup('busy-host', start - HOUR)).toBeUndefined();
  });

  it('prefers the latest created where tenancies of one host overlap', () => {
    const registry = createWorkspaceRegistry([
      parse({
        hostname: 'h',
        owner: 'long',
        experiment: null,
        created_time: '2025-01-01T00:00:00Z',
        deleted_time: null,
      }),
      parse({
        hostname: 'h',
        owner: 'short',
        experiment: 'E',
        created_time: '2025-01-02T00:00:00Z',
        deleted_time: '2025-01-03T00:00:00Z',
      }),
    ]);
    expect(registry.lookup('h', t('2025-01-01T12:00:00Z'))?.owner).toBe('long');
    expect(registry.lookup('h', t('2025-01-02T12:00:00Z'))?.owner).toBe('short');
    expect(registry.lookup('h', t('2025-01-03T12:00:00Z'))?.owner).toBe('long');
  });

  it('answers 1,000 hosts × 8,760 hours quickly', () => {
    const year = Date.UTC(2025, 0, 1);
    const registry = createWorkspaceRegistry(
      Array.from({ length: 3000 }, (_, i) =>
        parse({
          hostname: `host-${i % 1000}`,
          owner: `user-${i}`,
          experiment: null,
          created_time: new Date(year + Math.floor(i / 1000) * 2920 * HOUR).toISOString(),
          deleted_time: new Date(year + (Math.floor(i / 1000) + 1) * 2920 * HOUR).toISOString(),
        }),
      ),
    );
    const started = performance.now();
    let found = 0;
    for (let host = 0; host < 1000; host++) {
      for (let hour = 0; hour < 8760; hour++)
        if (registry.lookup(`host-${host}`, year + hour * HOUR)) found++;
    }
    expect(found).toBe(8_760_000);
    expect(performance.now() - started).toBeLessThan(5000);
  });
});

describe('emptyRegistry', () => {
  it('knows no workspace', () => {
    expect(emptyRegistry.lookup('ws-01', 0)).toBeUndefined();
  });
});
