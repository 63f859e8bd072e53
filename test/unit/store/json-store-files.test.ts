import { existsSync } from 'node:fs';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { DayEntry, IngestBatch } from '../../../src/domain/usage';
import { CorruptFileError, type JsonStore } from '../../../src/store/json';
import { PartialReadError, UnreadableDataError } from '../../../src/store/store';
import { batch, failedHour, okHour, usage, apply, ledgerMonth } from '../../support/describe-store';
import {
  dayOf,
  inodes,
  openTempJsonStore,
  removeTempJsonStore,
  six,
  snapshot,
  text,
} from '../../support/json-store-on-disk';

describe('JSON store', () => {
  let dataDir: string;
  let store: JsonStore;

  beforeEach(async () => {
    ({ dataDir, store } = await openTempJsonStore());
  });

  afterEach(() => removeTempJsonStore(store, dataDir));

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
});
