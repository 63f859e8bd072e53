import fs, { readdirSync } from 'node:fs';
import { readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { openJsonStore, type JsonStore } from '../../../src/store/json';
import { at, batch, okHour, OK_LEDGER_HOUR, usage, apply, ledgerMonth } from '../../support/describe-store';
import { dayOf, openTempJsonStore, removeTempJsonStore, six, text } from '../../support/json-store-on-disk';
import { rollupDisagreements } from '../../support/store-invariants';

describe('JSON store', () => {
  let dataDir: string;
  let store: JsonStore;

  beforeEach(async () => {
    ({ dataDir, store } = await openTempJsonStore());
  });

  afterEach(() => removeTempJsonStore(store, dataDir));

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
});
