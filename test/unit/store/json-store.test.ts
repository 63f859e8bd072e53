import fs, { existsSync, readdirSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Level } from '../../../src/domain/levels';
import type { DayEntry, IngestBatch } from '../../../src/domain/usage';
import { CorruptFileError, InvalidKeyError, openJsonStore, type JsonStore } from '../../../src/store/json';
import { PartialReadError, UnreadableDataError, withWriter } from '../../../src/store/store';
import {
  at,
  batch,
  failedHour,
  figures,
  okHour,
  OK_LEDGER_HOUR,
  usage,
  apply,
  ledgerMonth,
} from '../../support/describe-store';
import { describeInstanceIndex } from '../../support/describe-instance-index';
import { rollupDisagreements } from '../../support/store-invariants';

const newRoot = (): Promise<string> => mkdtemp(join(tmpdir(), 'carbonledger-json-store-'));

describeInstanceIndex('json', async () => {
  const root = await newRoot();
  return {
    store: await openJsonStore({ dataDir: join(root, 'data') }),
    cleanup: () => rm(root, { recursive: true, force: true }),
  };
});

/** Every directory and file under `dir`, by path relative to it: a directory maps to 'dir', a file to its bytes. */
async function snapshot(dir: string): Promise<Map<string, Buffer | 'dir'>> {
  const found = new Map<string, Buffer | 'dir'>();
  const walk = async (relative: string): Promise<void> => {
    for (const entry of await readdir(join(dir, relative), { withFileTypes: true })) {
      const path = relative === '' ? entry.name : `${relative}/${entry.name}`;
      if (entry.isDirectory()) {
        found.set(path, 'dir');
        await walk(path);
      } else {
        found.set(path, await readFile(join(dir, path)));
      }
    }
  };
  await walk('');
  return found;
}

/** Inode of every file: an atomic rewrite always gives a new one. */
async function inodes(dir: string): Promise<Map<string, number>> {
  const files = [...(await snapshot(dir))].filter(([, content]) => content !== 'dir');
  return new Map(
    await Promise.all(files.map(async ([path]) => [path, (await stat(join(dir, path))).ino] as const)),
  );
}

/** The seed's six fields, from `figures(n)`. */
function six(n: number): Record<string, number> {
  const f = figures(n);
  return {
    busy_cpu_seconds_total: f.busyCpuSeconds,
    idle_cpu_seconds_total: f.idleCpuSeconds,
    busy_kwh: f.busyKwh,
    idle_kwh: f.idleKwh,
    busy_gCo2eq: f.busyGco2eq,
    idle_gCo2eq: f.idleGco2eq,
  };
}

const text = (value: unknown): string => JSON.stringify(value, null, 2) + '\n';

const dayOf = (level: Level, key: string, date: string, hours: DayEntry['hours'], n: number): DayEntry => ({
  level,
  key,
  date,
  hours,
  totals: usage(n),
});

describe('JSON store', () => {
  let root: string;
  let dataDir: string;
  let store: JsonStore;

  beforeEach(async () => {
    root = await newRoot();
    dataDir = join(root, 'data');
    store = await openJsonStore({ dataDir });
  });

  afterEach(async () => {
    await store.close();
    await rm(root, { recursive: true, force: true });
  });

  it('writes the day entry at the contract path in the seed shape, beside its roll-ups and the ledger', async () => {
    await apply(
      store,
      batch(
        [
          okHour('2025-09-21T04:00Z'),
          okHour('2025-09-21T03:00Z'),
          failedHour('2025-09-21T05:00Z', 'timed out'),
        ],
        [
          {
            level: 'PROJECT',
            key: 'IDAaaS',
            date: '2025-09-21',
            hours: {
              '04:00': { all: figures(1), byMachine: { ARTEMIS_MATLAB: figures(1) } },
              '03:00': { all: figures(3), byMachine: { SMALL: figures(2), ARTEMIS_MATLAB: figures(1) } },
            },
            totals: { all: figures(4), byMachine: { SMALL: figures(2), ARTEMIS_MATLAB: figures(2) } },
          },
        ],
        '2025-09-21T06:05:00Z',
      ),
    );

    const failed = 'failed';
    const totals = { all: six(4), ARTEMIS_MATLAB: six(2), SMALL: six(2) };
    expect(await readFile(join(dataDir, 'usage/project/IDAaaS/2025/2025-09-21.json'), 'utf8')).toBe(
      text({
        cloud_project_name: 'IDAaaS',
        date: '21_09_2025',
        timeseries: {
          totals,
          '03:00': { all: six(3), ARTEMIS_MATLAB: six(1), SMALL: six(2) },
          '04:00': { all: six(1), ARTEMIS_MATLAB: six(1) },
          '05:00': {
            all: {
              busy_cpu_seconds_total: failed,
              idle_cpu_seconds_total: failed,
              busy_kwh: failed,
              idle_kwh: failed,
              busy_gCo2eq: failed,
              idle_gCo2eq: failed,
            },
          },
        },
      }),
    );
    expect(await readFile(join(dataDir, 'usage/project/IDAaaS/2025/2025-09.month.json'), 'utf8')).toBe(
      text({ cloud_project_name: 'IDAaaS', month: '2025-09', totals, days: { '2025-09-21': totals } }),
    );
    expect(await readFile(join(dataDir, 'usage/project/IDAaaS/2025.year.json'), 'utf8')).toBe(
      text({ cloud_project_name: 'IDAaaS', year: '2025', totals, months: { '2025-09': totals } }),
    );
    const okRecord = {
      status: 'ok',
      intensity: { gPerKwh: 200, estimated: false, source: 'static' },
      instanceHours: { small: 1 },
    };
    expect(await readFile(join(dataDir, 'ledger/2025/2025-09.json'), 'utf8')).toBe(
      text({
        '2025-09-21T03:00:00.000Z': okRecord,
        '2025-09-21T04:00:00.000Z': okRecord,
        '2025-09-21T05:00:00.000Z': {
          status: 'failed',
          attempts: 1,
          error: 'timed out',
          lastAttemptAt: '2025-09-21T06:05:00.000Z',
        },
      }),
    );
    expect([...(await snapshot(dataDir)).keys()].sort()).toEqual([
      'index',
      'index/instances.json',
      'ledger',
      'ledger/2025',
      'ledger/2025/2025-09.json',
      'usage',
      'usage/project',
      'usage/project/IDAaaS',
      'usage/project/IDAaaS/2025',
      'usage/project/IDAaaS/2025.year.json',
      'usage/project/IDAaaS/2025/2025-09-21.json',
      'usage/project/IDAaaS/2025/2025-09.month.json',
      'version',
    ]);
  });

  it('encodes keys so that nothing lands outside the data directory and distinct keys stay distinct', async () => {
    const keys = ['../../etc', '..', '.', 'a/b', 'Zürich 🌍', '%41', 'A'];
    const entries = keys.map((key, i) => dayOf('USER', key, '2025-09-21', { '03:00': usage(i + 1) }, i + 1));
    await apply(store, batch([okHour('2025-09-21T03:00Z')], entries));

    expect(await readdir(root)).toEqual(['data']);
    expect((await readdir(join(dataDir, 'usage/user'))).sort()).toEqual([
      '%2541',
      '%2E',
      '%2E%2E',
      '..%2F..%2Fetc',
      'A',
      'Z%C3%BCrich%20%F0%9F%8C%8D',
      'a%2Fb',
    ]);
    expect(await store.listKeys('USER')).toEqual(['%41', '.', '..', '../../etc', 'A', 'Zürich 🌍', 'a/b']);
    expect(await store.readDays('USER', '2025-09-21', keys)).toEqual(entries);
  });

  it('rejects an empty key before writing anything, and reads it as absent', async () => {
    await expect(
      apply(
        store,
        batch([okHour('2025-09-21T03:00Z')], [dayOf('USER', '', '2025-09-21', { '03:00': usage(1) }, 1)]),
      ),
    ).rejects.toThrow(InvalidKeyError);
    expect(await readdir(dataDir)).toEqual([]);
    expect(await store.readDays('USER', '2025-09-21', [''])).toEqual([null]);
  });

  it('refuses periods that are not dates, so they cannot point outside the store', async () => {
    await expect(store.readDays('USER', '../../etc', ['a'])).rejects.toThrow(
      'Expected a UTC date YYYY-MM-DD',
    );
    await expect(store.readMonths('USER', '2025-13', ['a'])).rejects.toThrow('Expected a UTC month YYYY-MM');
    await expect(store.readYears('USER', '25', ['a'])).rejects.toThrow('Expected a UTC year YYYY');
  });

  describe('after a batch stopped part-way', () => {
    const ledgerFile = () => join(dataDir, 'ledger/2025/2025-09.json');
    const secondBatch = batch(
      [okHour('2025-09-21T04:00Z'), okHour('2025-09-22T00:00Z')],
      [
        dayOf('PROJECT', 'alpha', '2025-09-21', { '04:00': usage(2) }, 2),
        dayOf('PROJECT', 'alpha', '2025-09-22', { '00:00': usage(4) }, 4),
      ],
    );

    /**
     * A writer whose ledger month cannot be written (the disk fails its rename), after the days
     * were, and whose process then dies: never released, its lock gone with it.
     */
    async function crashBeforeRollups(): Promise<void> {
      await apply(
        store,
        batch(
          [okHour('2025-09-21T03:00Z')],
          [dayOf('PROJECT', 'alpha', '2025-09-21', { '03:00': usage(1) }, 1)],
        ),
      );
      const realRename = fs.rename;
      const failing = jest.spyOn(fs, 'rename').mockImplementation(((from, to, callback) => {
        if (String(to) === ledgerFile())
          return callback(Object.assign(new Error('disk gone'), { code: 'EIO' }));
        return realRename(from, to, callback);
      }) as typeof fs.rename);
      const doomed = await openJsonStore({ dataDir });
      try {
        const writer = await doomed.openWriter({ purpose: 'a writer about to die' });
        await expect(writer.applyBatch(secondBatch)).rejects.toThrow('disk gone');
      } finally {
        failing.mockRestore();
      }
      await rm(join(dataDir, 'ingest.lock'));
    }

    /**
     * The second batch's hours were written to the days but never recorded: the repair takes them
     * out (they are MISSING until ingested again), keeps the days as they were under quarantine/,
     * and the roll-ups count the recorded hour alone.
     */
    const expectAlphaLevelWithRecordedHours = async () => {
      expect(await store.readDays('PROJECT', '2025-09-21', ['alpha'])).toEqual([
        dayOf('PROJECT', 'alpha', '2025-09-21', { '03:00': usage(1) }, 1),
      ]);
      expect(await store.readDays('PROJECT', '2025-09-22', ['alpha'])).toEqual([null]);
      expect(await store.readMonths('PROJECT', '2025-09', ['alpha'])).toEqual([
        {
          level: 'PROJECT',
          key: 'alpha',
          month: '2025-09',
          days: { '2025-09-21': usage(1) },
          totals: usage(1),
        },
      ]);
      expect(await store.readYears('PROJECT', '2025', ['alpha'])).toEqual([
        { level: 'PROJECT', key: 'alpha', year: '2025', months: { '2025-09': usage(1) }, totals: usage(1) },
      ]);
      expect(await readdir(dataDir)).not.toContain('journal.json');
      // Each file is kept under the moment it was moved: gather them over every moment.
      const kept = (await readdir(join(dataDir, 'quarantine'))).flatMap((stamp) =>
        readdirSync(join(dataDir, 'quarantine', stamp, 'usage/project/alpha/2025')),
      );
      expect(kept.sort()).toEqual(['2025-09-21.json', '2025-09-22.json']);
    };

    it('leaves a journal naming the months being changed, and no ledger record for the hours', async () => {
      await crashBeforeRollups();
      expect(JSON.parse(await readFile(join(dataDir, 'journal.json'), 'utf8'))).toEqual({
        months: [{ level: 'PROJECT', key: 'alpha', month: '2025-09' }],
      });
      expect(await ledgerMonth(store, '2025-09')).toEqual(
        new Map([[at('2025-09-21T03:00Z'), OK_LEDGER_HOUR]]),
      );
    });

    it('is read level with the recorded hours by a store opened again, and rebuilt by its writer', async () => {
      await crashBeforeRollups();
      store = await openJsonStore({ dataDir });
      expect(await store.readMonths('PROJECT', '2025-09', ['alpha'])).toEqual([
        {
          level: 'PROJECT',
          key: 'alpha',
          month: '2025-09',
          days: { '2025-09-21': usage(1) },
          totals: usage(1),
        },
      ]);
      expect(await store.readDays('PROJECT', '2025-09-22', ['alpha'])).toEqual([null]);
      expect(await readdir(dataDir)).toContain('journal.json');
      await (await store.openWriter({ purpose: 'the next ingest' })).release();
      await expectAlphaLevelWithRecordedHours();
    });

    it('rebuilds the roll-ups before the next batch', async () => {
      await crashBeforeRollups();
      await apply(store, batch([okHour('2025-10-01T00:00Z')], []));
      await expectAlphaLevelWithRecordedHours();
    });

    it('rebuilds from day files written by hand, and drops roll-ups whose days are gone', async () => {
      await apply(
        store,
        batch(
          // 25 September 12:00 is recorded, as it would be when its day file is restored by hand.
          [okHour('2025-08-31T23:00Z'), okHour('2025-09-21T03:00Z'), okHour('2025-09-25T12:00Z')],
          [
            dayOf('PROJECT', 'alpha', '2025-08-31', { '23:00': usage(5) }, 5),
            dayOf('PROJECT', 'alpha', '2025-09-21', { '03:00': usage(1) }, 1),
          ],
        ),
      );
      await writeFile(
        join(dataDir, 'usage/project/alpha/2025/2025-09-25.json'),
        text({
          cloud_project_name: 'alpha',
          date: '25_09_2025',
          timeseries: { totals: { all: six(6), SMALL: six(6) }, '12:00': { all: six(6), SMALL: six(6) } },
        }),
      );
      await rm(join(dataDir, 'usage/project/alpha/2025/2025-08-31.json'));
      await writeFile(
        join(dataDir, 'journal.json'),
        text({
          months: [
            { level: 'PROJECT', key: 'alpha', month: '2025-08' },
            { level: 'PROJECT', key: 'alpha', month: '2025-09' },
          ],
        }),
      );

      store = await openJsonStore({ dataDir });
      const expectLevelWithDays = async () => {
        expect(await store.readMonths('PROJECT', '2025-08', ['alpha'])).toEqual([null]);
        expect(await store.readMonths('PROJECT', '2025-09', ['alpha'])).toEqual([
          {
            level: 'PROJECT',
            key: 'alpha',
            month: '2025-09',
            days: { '2025-09-21': usage(1), '2025-09-25': usage(6) },
            totals: usage(7),
          },
        ]);
        expect(await store.readYears('PROJECT', '2025', ['alpha'])).toEqual([
          { level: 'PROJECT', key: 'alpha', year: '2025', months: { '2025-09': usage(7) }, totals: usage(7) },
        ]);
      };
      // Readers see it level before any writer comes; the writer then makes the files so.
      await expectLevelWithDays();
      await (await store.openWriter({ purpose: 'the next ingest' })).release();
      await expectLevelWithDays();
      expect(await rollupDisagreements(dataDir)).toEqual([]);
      expect((await readdir(dataDir)).sort()).toEqual(['index', 'ledger', 'usage', 'version']);
    });
  });

  describe('idempotency', () => {
    const entries: DayEntry[] = [
      dayOf('PROJECT', 'alpha', '2025-12-31', { '23:00': usage(0.1) }, 0.1),
      dayOf('PROJECT', 'alpha', '2026-01-01', { '00:00': usage(0.2) }, 0.2),
      dayOf('PROJECT', 'beta', '2026-01-01', { '00:00': usage(0.3) }, 0.3),
      dayOf('USER', 'alice', '2026-01-01', { '00:00': usage(0.5) }, 0.5),
      dayOf('INSTANCE', 'host-1:9100', '2026-01-01', { '00:00': usage(0.5) }, 0.5),
    ];
    const outcomes = [okHour('2025-12-31T23:00Z'), okHour('2026-01-01T00:00Z')];
    const full: IngestBatch = batch(outcomes, entries);

    it('leaves every file untouched when the same batch is applied again', async () => {
      await apply(store, full);
      const bytes = await snapshot(dataDir);
      const files = await inodes(dataDir);
      await apply(store, full);
      expect(await snapshot(dataDir)).toEqual(bytes);
      expect(await inodes(dataDir)).toEqual(files);
    });

    it('gives byte-identical files when hours are re-ingested after other figures', async () => {
      // The version token is new after each change, whatever the change.
      const contents = async () => {
        const files = await snapshot(dataDir);
        files.delete('version');
        return files;
      };
      await apply(store, full);
      const bytes = await contents();
      await apply(
        store,
        batch(outcomes, [dayOf('PROJECT', 'alpha', '2026-01-01', { '00:00': usage(9) }, 9)]),
      );
      expect(await store.listKeys('PROJECT')).toEqual(['alpha']);
      await apply(store, full);
      expect(await contents()).toEqual(bytes);
    });

    it('gives byte-identical usage files once a failed hour succeeds with no usage', async () => {
      await apply(store, full);
      const usageBytes = async () =>
        [...(await snapshot(dataDir))].filter(([path]) => path.startsWith('usage'));
      const before = await usageBytes();
      await apply(store, batch([failedHour('2026-01-01T05:00Z', 'down')], []));
      expect(await usageBytes()).not.toEqual(before);
      await apply(store, batch([okHour('2026-01-01T05:00Z')], []));
      expect(await usageBytes()).toEqual(before);
    });
  });

  describe('a corrupt file', () => {
    beforeEach(async () => {
      await apply(
        store,
        batch(
          [okHour('2025-09-21T03:00Z')],
          [dayOf('PROJECT', 'alpha', '2025-09-21', { '03:00': usage(1) }, 1)],
        ),
      );
    });

    async function corruptionOf(read: Promise<unknown>): Promise<CorruptFileError> {
      const error = await read.then(
        () => null,
        (err: unknown) => err,
      );
      // A usage file fails only its own key's read (the other keys' results come with it).
      const cause =
        error instanceof PartialReadError
          ? (error.results.find((r) => r instanceof UnreadableDataError) as UnreadableDataError).cause
          : error;
      expect(cause).toBeInstanceOf(CorruptFileError);
      return cause as CorruptFileError;
    }

    it('is named by path when a day entry is not JSON, and is moved aside by the next batch', async () => {
      const path = join(dataDir, 'usage/project/alpha/2025/2025-09-21.json');
      await writeFile(path, '{"cloud_project_name": "alp');
      const error = await corruptionOf(store.readDays('PROJECT', '2025-09-21', ['alpha']));
      expect(error.path).toBe(path);
      expect(error.message).toContain(path);

      // test/integration/damaged-store.test.ts follows what happens next in detail.
      await apply(store, batch([okHour('2025-09-21T04:00Z')], []));
      const after = await snapshot(dataDir);
      const files = [...after].filter(([, kind]) => kind !== 'dir').map(([p]) => p);
      expect(files.filter((p) => p.startsWith('usage/'))).toEqual([]);
      expect(files.filter((p) => p.startsWith('quarantine/'))).toEqual([
        expect.stringMatching(/^quarantine\/[^/]+\/usage\/project\/alpha\/2025\/2025-09-21\.json$/),
      ]);
    });

    it('is named by path when a directory stands where a day entry or the ledger should be', async () => {
      const dayPath = join(dataDir, 'usage/project/alpha/2025/2025-09-21.json');
      await rm(dayPath);
      await mkdir(dayPath);
      const error = await corruptionOf(store.readDays('PROJECT', '2025-09-21', ['alpha']));
      expect(error.message).toBe(
        `Corrupt store file ${dayPath}: a directory stands where the file should be`,
      );
      // The next batch moves it aside, as it would a corrupt file.
      await apply(store, batch([okHour('2025-09-21T04:00Z')], []));
      const quarantined = [...(await snapshot(dataDir))]
        .map(([p]) => p)
        .filter((p) => p.startsWith('quarantine/'));
      expect(quarantined).toContainEqual(
        expect.stringMatching(/^quarantine\/[^/]+\/usage\/project\/alpha\/2025\/2025-09-21\.json$/),
      );
      expect(existsSync(dayPath)).toBe(false);

      const ledgerPath = join(dataDir, 'ledger/2025/2025-09.json');
      await rm(ledgerPath);
      await mkdir(ledgerPath);
      expect((await corruptionOf(ledgerMonth(store, '2025-09'))).path).toBe(ledgerPath);
    });

    it('is named by path when a roll-up or the ledger is not the shape the store writes', async () => {
      const monthPath = join(dataDir, 'usage/project/alpha/2025/2025-09.month.json');
      await writeFile(monthPath, text({ totals: { all: six(1) } }));
      const monthError = await corruptionOf(store.readMonths('PROJECT', '2025-09', ['alpha']));
      expect(monthError).toEqual(expect.objectContaining({ path: monthPath }));
      expect(monthError.message).toBe(`Corrupt store file ${monthPath}: days is not an object`);

      const ledgerPath = join(dataDir, 'ledger/2025/2025-09.json');
      await writeFile(ledgerPath, '[');
      expect((await corruptionOf(ledgerMonth(store, '2025-09'))).path).toBe(ledgerPath);
    });
  });

  it('applies batches given at the same time one after the other', async () => {
    await withWriter(store, { purpose: 'a test' }, (writer) =>
      Promise.all([
        writer.applyBatch(
          batch(
            [okHour('2025-09-21T03:00Z')],
            [dayOf('PROJECT', 'alpha', '2025-09-21', { '03:00': usage(1) }, 1)],
          ),
        ),
        writer.applyBatch(
          batch(
            [okHour('2025-09-21T04:00Z')],
            [dayOf('PROJECT', 'alpha', '2025-09-21', { '04:00': usage(2) }, 2)],
          ),
        ),
      ]),
    );
    expect(await store.readMonths('PROJECT', '2025-09', ['alpha'])).toEqual([
      {
        level: 'PROJECT',
        key: 'alpha',
        month: '2025-09',
        days: { '2025-09-21': usage(3) },
        totals: usage(3),
      },
    ]);
  });

  it('is readable with or without its data directory (not made yet: empty), and says why not otherwise', async () => {
    await expect(store.checkReadable()).resolves.toBeUndefined();
    expect(existsSync(dataDir)).toBe(false);
    await writeFile(dataDir, 'not a directory');
    await expect(store.checkReadable()).rejects.toThrow(/ENOTDIR/);
  });
});
