import { existsSync } from 'node:fs';
import { readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { InvalidKeyError, openJsonStore, type JsonStore } from '../../../src/store/json';
import { withWriter } from '../../../src/store/store';
import { batch, failedHour, figures, okHour, usage, apply } from '../../support/describe-store';
import { describeInstanceIndex } from '../../support/describe-instance-index';
import {
  dayOf,
  newRoot,
  openTempJsonStore,
  removeTempJsonStore,
  six,
  snapshot,
  text,
} from '../../support/json-store-on-disk';

describeInstanceIndex('json', async () => {
  const root = await newRoot();
  return {
    store: await openJsonStore({ dataDir: join(root, 'data') }),
    cleanup: () => rm(root, { recursive: true, force: true }),
  };
});

describe('JSON store', () => {
  let root: string;
  let dataDir: string;
  let store: JsonStore;

  beforeEach(async () => {
    ({ root, dataDir, store } = await openTempJsonStore());
  });

  afterEach(() => removeTempJsonStore(store, dataDir));

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
