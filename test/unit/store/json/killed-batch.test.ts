import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ingestRange } from '../../../../src/ingest/run';
import { silentLogger } from '../../../../src/log';
import type { CpuSecondsSource, SourceHour } from '../../../../src/plugins/source';
import { openJsonStore } from '../../../../src/store/json';
import { directIngestDeps, hoursIn, tempDirs } from '../../../support/fake-ingest';
import { dayEntryPath } from '../../../support/store-files';
import { hoursWithoutLedgerRecord, rollupDisagreements } from '../../../support/store-invariants';

const dirs = tempDirs('cl-killed-batch-');
afterEach(() => dirs.cleanup());

const at = (iso: string) => Date.parse(iso);

/** One VM of project P, 600 busy CPU seconds every hour. */
const source: CpuSecondsSource = {
  async fetchHours(from, to) {
    return new Map<number, SourceHour>(
      hoursIn(from, to).map((hour) => [
        hour,
        {
          status: 'ok',
          rows: [
            {
              hour,
              instance: 'vm-1:9100',
              labels: { instance: 'vm-1:9100', cloud_project_name: 'P', machine_name: 'Small' },
              busyCpuSeconds: 600,
              idleCpuSeconds: 3000,
            },
          ],
        },
      ]),
    );
  },
};

async function ingest(dataDir: string, from: string, to: string): Promise<void> {
  const store = await openJsonStore({ dataDir, log: silentLogger });
  await ingestRange(directIngestDeps(store, source, { stepHours: 24 }), at(from), at(to));
  await store.close();
}

describe('a batch killed after writing its days, before recording its hours', () => {
  it('is taken out of the day entries when the store is next opened, so roll-ups count only recorded hours', async () => {
    const dataDir = dirs.make();
    const date = '2025-03-10';
    await ingest(dataDir, `${date}T00:00:00Z`, `${date}T04:00:00Z`);
    const recordedDay = await readFile(dayEntryPath(dataDir, 'PROJECT', 'P', date), 'utf8');

    // What the killed batch left: the day entry of every level and key with two more hours (as a
    // complete run writes them), the journal naming the month, and no ledger record of 04:00, 05:00.
    const complete = dirs.make();
    await ingest(complete, `${date}T00:00:00Z`, `${date}T06:00:00Z`);
    for (const [level, key] of [
      ['PROJECT', 'P'],
      ['INSTANCE', 'vm-1:9100'],
      ['MACHINE', 'Small'],
      ['USER', 'unknown'],
      ['EXPERIMENT', 'unknown'],
    ]) {
      await writeFile(
        dayEntryPath(dataDir, level, key, date),
        await readFile(dayEntryPath(complete, level, key, date)),
      );
    }
    const months = ['PROJECT', 'INSTANCE', 'MACHINE', 'USER', 'EXPERIMENT'].map((level) => ({
      level,
      key: { PROJECT: 'P', INSTANCE: 'vm-1:9100', MACHINE: 'Small' }[level] ?? 'unknown',
      month: '2025-03',
    }));
    await writeFile(join(dataDir, 'journal.json'), JSON.stringify({ months }));

    const store = await openJsonStore({ dataDir, log: silentLogger });
    expect(await hoursWithoutLedgerRecord(dataDir, (month) => store.readLedgerMonth(month))).toEqual([]);
    await store.close();
    expect(await readFile(dayEntryPath(dataDir, 'PROJECT', 'P', date), 'utf8')).toBe(recordedDay);
    expect(await rollupDisagreements(dataDir)).toEqual([]);
    // The month counts the four recorded hours only.
    const month = JSON.parse(
      await readFile(join(dataDir, 'usage/project/P/2025/2025-03.month.json'), 'utf8'),
    );
    expect(month.totals.all.busy_cpu_seconds_total).toBe(4 * 600);
  });
});
