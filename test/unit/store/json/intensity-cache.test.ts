import fs from 'node:fs';
import { promises as fsp } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HOUR_MS } from '../../../../src/domain/time';
import type { HourIntensity } from '../../../../src/domain/usage';
import { fileIntensityCache } from '../../../../src/store/json/intensity-cache';
import { recordingLogger } from '../../plugins/carbon/fake-carbon-intensity-api';

const SEP_30_23H = Date.parse('2025-09-30T23:00Z');
const OCT_1_00H = Date.parse('2025-10-01T00:00Z');
const OCT_1_01H = Date.parse('2025-10-01T01:00Z');

const real = (gPerKwh: number): HourIntensity => ({
  gPerKwh,
  estimated: false,
  source: 'carbon-intensity-api',
});
const estimated: HourIntensity = { gPerKwh: 200, estimated: true, source: 'carbon-intensity-api (fallback)' };

let root: string;
let dir: string;
beforeEach(async () => {
  root = await fsp.mkdtemp(join(tmpdir(), 'carbon-cache-'));
  dir = join(root, 'carbon');
});
afterEach(async () => {
  jest.restoreAllMocks();
  await fsp.rm(root, { recursive: true, force: true });
});

const readJson = async (file: string): Promise<unknown> =>
  JSON.parse(await fsp.readFile(join(dir, file), 'utf8'));

describe('fileIntensityCache', () => {
  it('round-trips through one file per UTC month, keyed by hour ISO, real values only', async () => {
    await fileIntensityCache(dir).put(
      new Map([
        [SEP_30_23H, real(123.5)],
        [OCT_1_00H, real(98)],
        [OCT_1_01H, estimated],
      ]),
    );

    expect((await fsp.readdir(dir)).sort()).toEqual(['2025-09.json', '2025-10.json']);
    expect(await readJson('2025-09.json')).toEqual({ '2025-09-30T23:00:00.000Z': real(123.5) });
    expect(await readJson('2025-10.json')).toEqual({ '2025-10-01T00:00:00.000Z': real(98) });

    const reopened = fileIntensityCache(dir);
    expect(await reopened.get(SEP_30_23H, OCT_1_01H + HOUR_MS)).toEqual(
      new Map([
        [SEP_30_23H, real(123.5)],
        [OCT_1_00H, real(98)],
      ]),
    );
    expect(await reopened.get(OCT_1_00H, OCT_1_01H)).toEqual(new Map([[OCT_1_00H, real(98)]]));
  });

  it('adds to a month already on disk', async () => {
    await fileIntensityCache(dir).put(new Map([[OCT_1_00H, real(1)]]));
    await fileIntensityCache(dir).put(new Map([[OCT_1_01H, real(2)]]));

    expect(await readJson('2025-10.json')).toEqual({
      '2025-10-01T00:00:00.000Z': real(1),
      '2025-10-01T01:00:00.000Z': real(2),
    });
  });

  it('reads nothing until asked, and only the months asked for', async () => {
    const { log, warnings } = recordingLogger();
    const cache = fileIntensityCache(dir, log);
    await fsp.mkdir(dir, { recursive: true });
    await fsp.writeFile(join(dir, '2025-09.json'), JSON.stringify({ '2025-09-30T23:00:00.000Z': real(7) }));
    await fsp.writeFile(join(dir, '2025-10.json'), '{ not json');

    expect(await cache.get(SEP_30_23H, OCT_1_00H)).toEqual(new Map([[SEP_30_23H, real(7)]]));
    expect(warnings).toEqual([]);
  });

  it('treats a file that is not JSON as empty, and replaces it on the next write', async () => {
    const { log, warnings } = recordingLogger();
    await fsp.mkdir(dir, { recursive: true });
    await fsp.writeFile(join(dir, '2025-10.json'), '{ half a fi');
    const cache = fileIntensityCache(dir, log);

    expect(await cache.get(OCT_1_00H, OCT_1_01H)).toEqual(new Map());
    expect(warnings.map((w) => w.msg)).toEqual([
      'carbon intensity cache file is not valid JSON; treating it as empty',
    ]);

    await cache.put(new Map([[OCT_1_00H, real(5)]]));
    expect(await readJson('2025-10.json')).toEqual({ '2025-10-01T00:00:00.000Z': real(5) });
  });

  it('skips entries on disk that are not real intensities', async () => {
    await fsp.mkdir(dir, { recursive: true });
    await fsp.writeFile(
      join(dir, '2025-10.json'),
      JSON.stringify({ '2025-10-01T00:00:00.000Z': estimated, '2025-10-01T01:00:00.000Z': { gPerKwh: 'x' } }),
    );

    expect(await fileIntensityCache(dir).get(OCT_1_00H, OCT_1_01H + HOUR_MS)).toEqual(new Map());
  });

  it('keeps every hour of concurrent writes to one month', async () => {
    const cache = fileIntensityCache(dir);
    await Promise.all(
      Array.from({ length: 10 }, (_, i) => cache.put(new Map([[OCT_1_00H + i * HOUR_MS, real(i)]]))),
    );

    expect(Object.keys((await readJson('2025-10.json')) as object)).toHaveLength(10);
    expect(await fsp.readdir(dir)).toEqual(['2025-10.json']);
  });

  it('writes atomically: a temp file that is fsynced then renamed over the old one', async () => {
    await fileIntensityCache(dir).put(new Map([[OCT_1_00H, real(1)]]));
    const events: string[] = [];
    const realFsync = fs.fsync;
    jest.spyOn(fs, 'fsync').mockImplementation((fd, callback) => {
      events.push('fsync');
      realFsync(fd, (err) => {
        events.push('fsynced');
        callback(err);
      });
    });
    const renames: Array<[string, string]> = [];
    const realRename = fs.rename;
    jest.spyOn(fs, 'rename').mockImplementation((from, to, callback) => {
      const tempText = fs.readFileSync(from, 'utf8');
      // At rename time the old file is still whole and the new content is complete in the temp file.
      expect(JSON.parse(fs.readFileSync(join(dir, '2025-10.json'), 'utf8'))).toEqual({
        '2025-10-01T00:00:00.000Z': real(1),
      });
      expect(JSON.parse(tempText)).toEqual({
        '2025-10-01T00:00:00.000Z': real(1),
        '2025-10-01T01:00:00.000Z': real(2),
      });
      events.push('rename');
      renames.push([String(from), String(to)]);
      realRename(from, to, callback);
    });

    await fileIntensityCache(dir).put(new Map([[OCT_1_01H, real(2)]]));

    expect(events).toEqual(['fsync', 'fsynced', 'rename']);
    expect(renames).toHaveLength(1);
    expect(renames[0][0].startsWith(join(dir, '.2025-10.json.'))).toBe(true);
    expect(renames[0][0]).toMatch(/\.2025-10\.json\.\d+-[0-9a-f]{12}\.tmp$/);
    expect(renames[0][1]).toBe(join(dir, '2025-10.json'));
    expect(await fsp.readdir(dir)).toEqual(['2025-10.json']);
  });

  it('leaves the old file and no temp file when the write fails', async () => {
    await fileIntensityCache(dir).put(new Map([[OCT_1_00H, real(1)]]));
    jest.spyOn(fs, 'rename').mockImplementation((_from, _to, callback) => {
      callback(Object.assign(new Error('EIO: i/o error'), { code: 'EIO' }));
    });
    const cache = fileIntensityCache(dir);

    await expect(cache.put(new Map([[OCT_1_01H, real(2)]]))).rejects.toThrow('EIO');

    expect(await readJson('2025-10.json')).toEqual({ '2025-10-01T00:00:00.000Z': real(1) });
    expect(await fsp.readdir(dir)).toEqual(['2025-10.json']);
    // What is cached in memory follows the disk: the failed hour is not served as cached.
    expect(await cache.get(OCT_1_00H, OCT_1_01H + HOUR_MS)).toEqual(new Map([[OCT_1_00H, real(1)]]));
  });
});
