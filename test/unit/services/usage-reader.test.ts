import type { Level } from '../../../src/domain/levels';
import { createUsageReader } from '../../../src/services/usage-reader';
import { readUsageSeries, readUsageSeriesMany, type SeriesRange } from '../../../src/services/usage-series';
import { at, dayEntry, memoryUsageStore, okHour, usage } from '../../support/usage-store';

const keys = Array.from({ length: 50 }, (_, i) => `project-${String(i).padStart(2, '0')}`);

const fiftyProjects = () =>
  memoryUsageStore({
    entries: keys.flatMap((key) => [
      dayEntry('PROJECT', key, '2025-09-21', { '23:00': usage({ CPU_SMALL: { busyKwh: 1 } }) }),
      dayEntry('PROJECT', key, '2025-09-22', { '00:00': usage({ CPU_SMALL: { busyKwh: 2 } }) }),
    ]),
    ledger: { '2025-09-21T23:00:00Z': okHour(), '2025-09-22T00:00:00Z': okHour() },
  });

const twoDaysHourly: SeriesRange = {
  granularity: 'HOUR',
  from: at('2025-09-21T00:00:00Z'),
  to: at('2025-09-23T00:00:00Z'),
};

describe('the per-request usage reader', () => {
  it('serves 50 keys with one store read per (level, day), one per ledger month and one key listing', async () => {
    const store = fiftyProjects();
    const series = await readUsageSeriesMany(createUsageReader(store), 'PROJECT', keys, twoDaysHourly);
    expect(series.map((s) => s.total.busyKwh)).toEqual(keys.map(() => 3));
    expect(store.calls.readDays).toEqual([
      { level: 'PROJECT', date: '2025-09-21', keys },
      { level: 'PROJECT', date: '2025-09-22', keys },
    ]);
    expect(store.calls.readLedger).toEqual(['2025-09']);
    // PROJECT for the series' known keys; MACHINE to name the byMachine split's machine types.
    expect(store.calls.listKeys).toEqual(['PROJECT', 'MACHINE']);
    expect(store.calls.readMonths).toEqual([]);
    expect(store.calls.readYears).toEqual([]);
  });

  it("reads a store's ledger statuses alone when it can, one read a month, and the same buckets", async () => {
    const plain = fiftyProjects();
    const statusReads: number[] = [];
    const store = Object.assign(fiftyProjects(), {
      readLedgerStatuses: async (from: number, to: number) => {
        statusReads.push(from);
        return new Map(
          [...(await plain.readLedger(from, to))].map(([hour, record]) => [hour, record.status]),
        );
      },
    });
    const read = (of: typeof store | typeof plain) =>
      readUsageSeriesMany(createUsageReader(of), 'PROJECT', keys.slice(0, 3), twoDaysHourly);
    const [withStatuses, withRecords] = [await read(store), await read(plain)];
    expect(withStatuses).toEqual(withRecords);
    expect(statusReads).toEqual([at('2025-09-01T00:00:00Z')]);
    expect(store.calls.readLedger).toEqual([]);
  });

  it('batches separate series that run concurrently, as aliased fields of one query do', async () => {
    const store = fiftyProjects();
    const reader = createUsageReader(store);
    await Promise.all([
      readUsageSeries(reader, 'PROJECT', keys[0], twoDaysHourly),
      readUsageSeries(reader, 'PROJECT', keys[1], twoDaysHourly),
      readUsageSeries(reader, 'PROJECT', keys[1], { ...twoDaysHourly, granularity: 'DAY' }),
    ]);
    expect(store.calls.readDays).toEqual([
      { level: 'PROJECT', date: '2025-09-21', keys: [keys[0], keys[1]] },
      { level: 'PROJECT', date: '2025-09-22', keys: [keys[0], keys[1]] },
    ]);
    expect(store.calls.readMonths).toEqual([{ level: 'PROJECT', month: '2025-09', keys: [keys[1]] }]);
    expect(store.calls.readLedger).toEqual(['2025-09']);
  });

  it('makes one store call per (level, period) when levels differ', async () => {
    const store = fiftyProjects();
    const reader = createUsageReader(store);
    const oneHour: SeriesRange = {
      granularity: 'HOUR',
      from: at('2025-09-22T00:00:00Z'),
      to: at('2025-09-22T01:00:00Z'),
    };
    await Promise.all(
      (['PROJECT', 'USER', 'PROJECT'] as Level[]).map((level, i) =>
        readUsageSeries(reader, level, keys[i], oneHour),
      ),
    );
    expect(store.calls.readDays).toEqual([
      { level: 'PROJECT', date: '2025-09-22', keys: [keys[0], keys[2]] },
      { level: 'USER', date: '2025-09-22', keys: [keys[1]] },
    ]);
  });

  it('caches within a request and starts afresh with a new reader', async () => {
    const store = fiftyProjects();
    const reader = createUsageReader(store);
    await readUsageSeries(reader, 'PROJECT', keys[0], twoDaysHourly);
    await readUsageSeries(reader, 'PROJECT', keys[0], twoDaysHourly);
    expect(store.calls.readDays).toHaveLength(2);
    await readUsageSeries(createUsageReader(store), 'PROJECT', keys[0], twoDaysHourly);
    expect(store.calls.readDays).toHaveLength(4);
  });

  it('fails only the keys of a store read that failed', async () => {
    const store = fiftyProjects();
    const readDays = store.readDays;
    store.readDays = (level, date, asked) =>
      level === 'USER' ? Promise.reject(new Error('disk on fire')) : readDays(level, date, asked);
    const reader = createUsageReader(store);
    const [user, project] = await Promise.allSettled([
      reader.day('USER', '2025-09-22', 'alice'),
      reader.day('PROJECT', '2025-09-22', keys[0]),
    ]);
    expect(user).toEqual({ status: 'rejected', reason: new Error('disk on fire') });
    expect(project).toMatchObject({ status: 'fulfilled', value: { key: keys[0], date: '2025-09-22' } });
  });

  it('lists keys sorted by UTF-16 code unit whatever order the store returns', async () => {
    const store = fiftyProjects();
    store.listKeys = async () => ['b', 'B', 'a', 'Ä'];
    expect((await createUsageReader(store).keys('PROJECT')).sorted).toEqual(['B', 'a', 'b', 'Ä']);
  });
});
