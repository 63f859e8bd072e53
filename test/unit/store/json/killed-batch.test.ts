import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ingestRange } from '../../../../src/ingest/run';
import { silentLogger } from '../../../../src/log';
import type { CpuSecondsSource, SourceHour } from '../../../../src/ingest/ports';
import { openJsonStore } from '../../../../src/store/json';
import { directIngestDeps, hoursIn, tempDirs } from '../../../support/fake-ingest';
import { dayEntryPath } from '../../../support/store-files';
import { hoursWithoutLedgerRecord, rollupDisagreements } from '../../../support/store-invariants';
import { ledgerMonth } from '../../../support/describe-store';
import { withWriter } from '../../../../src/store/store';
import type { JsonStore } from '../../../../src/store/json';

/** What the next ingestion does first when it opens the store's writer. */
const repairByWriter = (store: JsonStore) =>
  withWriter(store, { purpose: 'the next ingest' }, async () => undefined);

const dirs = tempDirs('cl-killed-batch-');
afterEach(() => dirs.cleanup());

const at = (iso: string) => Date.parse(iso);
const DATE = '2025-03-10';
/** Every level's key of the one VM. */
const KEYS = [
  ['PROJECT', 'P'],
  ['INSTANCE', 'vm-1:9100'],
  ['MACHINE', 'Small'],
  ['USER', 'unknown'],
  ['EXPERIMENT', 'unknown'],
] as const;

/** One VM of project P, 600 busy CPU seconds every hour; the hours in `failing` fail. */
function source(failing: ReadonlySet<number> = new Set()): CpuSecondsSource {
  return {
    async fetchHours(from, to) {
      return new Map<number, SourceHour>(
        hoursIn(from, to).map((hour): [number, SourceHour] => [
          hour,
          failing.has(hour)
            ? { status: 'failed', error: 'Prometheus answered 503' }
            : {
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
}

async function ingest(
  dataDir: string,
  from: string,
  to: string,
  failing?: ReadonlySet<number>,
): Promise<void> {
  const store = await openJsonStore({ dataDir, log: silentLogger });
  await ingestRange(directIngestDeps(store, source(failing), { stepHours: 24 }), at(from), at(to));
  await store.close();
}

/**
 * What a batch killed after writing its days and before recording its hours leaves in `dataDir`:
 * every key's day entry as a complete run of 00:00–06:00 writes it, and the journal naming the month.
 */
async function killedBatchOver(dataDir: string): Promise<Map<string, string>> {
  const complete = dirs.make();
  await ingest(complete, `${DATE}T00:00:00Z`, `${DATE}T06:00:00Z`);
  const written = new Map<string, string>();
  for (const [level, key] of KEYS) {
    const text = await readFile(dayEntryPath(complete, level, key, DATE), 'utf8');
    await writeFile(dayEntryPath(dataDir, level, key, DATE), text);
    written.set(`${level}/${key}`, text);
  }
  const months = KEYS.map(([level, key]) => ({ level, key, month: '2025-03' }));
  await writeFile(join(dataDir, 'journal.json'), JSON.stringify({ months }));
  return written;
}

/** The day entries kept under quarantine/, by their path in the store. */
async function keptDayEntries(dataDir: string): Promise<Map<string, string>> {
  const kept = new Map<string, string>();
  for (const stamp of await readdir(join(dataDir, 'quarantine'))) {
    for (const [level, key] of KEYS) {
      const path = dayEntryPath(join(dataDir, 'quarantine', stamp), level, key, DATE);
      kept.set(`${level}/${key}`, await readFile(path, 'utf8'));
    }
  }
  return kept;
}

describe('a batch killed after writing its days, before recording its hours', () => {
  it('is read without its unrecorded hours, and taken out of the day entries by the next writer, so roll-ups count only recorded hours', async () => {
    const dataDir = dirs.make();
    await ingest(dataDir, `${DATE}T00:00:00Z`, `${DATE}T04:00:00Z`);
    const recordedDay = await readFile(dayEntryPath(dataDir, 'PROJECT', 'P', DATE), 'utf8');
    const written = await killedBatchOver(dataDir);

    const store = await openJsonStore({ dataDir, log: silentLogger });
    // Readers see only the recorded hours, at every level, before any writer repairs.
    const [seen] = await store.readDays('PROJECT', DATE, ['P']);
    expect(Object.keys(seen!.hours)).toEqual(['00:00', '01:00', '02:00', '03:00']);
    const [seenMonth] = await store.readMonths('PROJECT', '2025-03', ['P']);
    expect(seenMonth!.totals).toEqual(seen!.totals);
    await repairByWriter(store);
    expect(await hoursWithoutLedgerRecord(dataDir, (m) => ledgerMonth(store, m))).toEqual([]);
    await store.close();
    expect(await readFile(dayEntryPath(dataDir, 'PROJECT', 'P', DATE), 'utf8')).toBe(recordedDay);
    expect(await rollupDisagreements(dataDir)).toEqual([]);
    // The month counts the four recorded hours only; what the batch wrote is kept, all in one place.
    const month = JSON.parse(
      await readFile(join(dataDir, 'usage/project/P/2025/2025-03.month.json'), 'utf8'),
    );
    expect(month.totals.all.busy_cpu_seconds_total).toBe(4 * 600);
    expect(await readdir(join(dataDir, 'quarantine'))).toHaveLength(1);
    expect(await keptDayEntries(dataDir)).toEqual(written);
  });

  it('turns a retry of failed hours it never recorded back into "failed" markers', async () => {
    const dataDir = dirs.make();
    const failing = new Set([at(`${DATE}T04:00:00Z`), at(`${DATE}T05:00:00Z`)]);
    await ingest(dataDir, `${DATE}T00:00:00Z`, `${DATE}T06:00:00Z`, failing);
    const failedDay = await readFile(dayEntryPath(dataDir, 'PROJECT', 'P', DATE), 'utf8');
    expect(JSON.parse(failedDay).timeseries['04:00'].all.busy_kwh).toBe('failed');
    // The retry got 04:00 and 05:00 back and wrote them, then was killed before the ledger.
    await killedBatchOver(dataDir);

    const store = await openJsonStore({ dataDir, log: silentLogger });
    const [seen] = await store.readDays('PROJECT', DATE, ['P']);
    expect(seen!.hours['04:00']).toBe('failed');
    await repairByWriter(store);
    const ledger = await ledgerMonth(store, '2025-03');
    await store.close();
    expect(ledger.get(at(`${DATE}T04:00:00Z`))?.status).toBe('failed');
    expect(await readFile(dayEntryPath(dataDir, 'PROJECT', 'P', DATE), 'utf8')).toBe(failedDay);
    expect(await rollupDisagreements(dataDir)).toEqual([]);
  });

  it('is still repaired when the ledger month is damaged: the days are rolled up as they are', async () => {
    const dataDir = dirs.make();
    await ingest(dataDir, `${DATE}T00:00:00Z`, `${DATE}T04:00:00Z`);
    await killedBatchOver(dataDir);
    await writeFile(join(dataDir, 'ledger/2025/2025-03.json'), '[');

    const store = await openJsonStore({ dataDir, log: silentLogger });
    await repairByWriter(store);
    await store.close();
    // Nothing taken out (the ledger cannot say what was recorded); the roll-ups agree with the days.
    const month = JSON.parse(
      await readFile(join(dataDir, 'usage/project/P/2025/2025-03.month.json'), 'utf8'),
    );
    expect(month.totals.all.busy_cpu_seconds_total).toBe(6 * 600);
    expect(await rollupDisagreements(dataDir)).toEqual([]);
  });
});
