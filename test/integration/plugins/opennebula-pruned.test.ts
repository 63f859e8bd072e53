import { createConnection } from 'mysql2/promise';
import type { Breakdown } from '../../../src/domain/figures';
import { DAY_MS, HOUR_MS, hourLabel } from '../../../src/domain/time';
import { ingestRange } from '../../../src/ingest/run';
import { ingestDeps } from '../../../src/ingest/wiring';
import { silentLogger } from '../../../src/log';
import { ledgerBetween, tempDirs } from '../../support/fake-ingest';
import { config, DAY, EXPECTED, expectEveryLevelMatches, NOW, VMS } from '../../support/opennebula-checks';
import { mariaDbFleet } from '../../support/opennebula-fleet';
import { bothStores } from '../../support/both-stores';

/** A store of each kind: both plan their batches through the same rule. */
const STORES = bothStores(() => dirs.make());

const dirs = tempDirs('cl-one-pruned-');
let cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
  cleanups = [];
  dirs.cleanup();
});

/** OpenNebula's retention: the samples before 04:30 of the day are gone. */
const PRUNED_BEFORE = DAY / 1000 + 4 * 3600 + 1800;

/** The hours in which some VM ran, sorted. */
const hoursOf = (vmIds: number[]) =>
  [...new Set(EXPECTED.filter((e) => vmIds.includes(e.vmId)).map((e) => e.hour))].sort((a, b) => a - b);

describe.each(STORES)('OpenNebula after its samples were pruned, on the %s store', (_kind, open) => {
  it('keeps every stored hour a re-ingest could measure less of, says so, and replaces them only with --replace', async () => {
    const db = await mariaDbFleet(VMS);
    cleanups.push(db.drop);
    const opened = await open();
    cleanups.push(opened.drop, () => opened.store.close());
    const { store } = opened;
    const cfg = config(opened.section, db.url);
    const ingest = async (replace: boolean) =>
      ingestRange(await ingestDeps(cfg, store, silentLogger, { now: () => NOW, replace }), DAY, DAY + DAY_MS);

    expect(await ingest(false)).toMatchObject({ okHours: 24, failed: [], kept: [] });
    const ledger = await ledgerBetween(store, DAY, DAY + DAY_MS);

    const prune = async (where: string, values: unknown[]) => {
      const conn = await createConnection({ uri: db.url });
      await conn.query(`DELETE FROM vm_samples WHERE ${where}`, values);
      await conn.end();
    };

    // The registers still say the VMs ran, with fewer samples behind them: none until 04:30.
    await prune('timestamp < ?', [PRUNED_BEFORE]);
    const partly = await ingest(false);
    expect(partly).toMatchObject({ okHours: 24, failed: [] });
    const early = hoursOf([1, 2, 3]).filter((hour) => hour < DAY + 5 * HOUR_MS);
    expect(partly.kept.map((k) => k.hour)).toEqual(early);
    expect(partly.kept[0].reason).toMatch(
      /^the source answered with fewer samples .*sampled hours: 0\.000 of 1\.000 "Artemis \(Matlab\)".*--replace/,
    );
    // 04:00 still has a sample of every VM, from 04:30 on: measured from half as much, so kept too.
    expect(partly.kept.at(-1)).toEqual({ hour: DAY + 4 * HOUR_MS, reason: expect.stringMatching(/"gpu"/) });
    expect(partly.kept.at(-1)!.reason).not.toMatch(/instance-hours/);
    expect(partly.instanceHours).toBe(EXPECTED.filter((e) => e.hour >= DAY + 5 * HOUR_MS).length);
    await expectEveryLevelMatches(store);
    expect(await ledgerBetween(store, DAY, DAY + DAY_MS)).toEqual(ledger);

    // one-3's samples gone entirely: every hour it ran in is kept as well.
    await prune('vm_id = 3', []);
    const gone = await ingest(false);
    expect(gone.kept.map((k) => k.hour)).toEqual(
      [...new Set([...early, ...hoursOf([3])])].sort((a, b) => a - b),
    );
    await expectEveryLevelMatches(store);
    expect(await ledgerBetween(store, DAY, DAY + DAY_MS)).toEqual(ledger);

    // An operator's explicit replacement takes what the source holds now: no busy time unsampled.
    const replaced = await ingest(true);
    expect(replaced).toMatchObject({ okHours: 24, kept: [] });
    const [one] = await store.readDays('INSTANCE', '2025-03-10', ['one-1']);
    const midnight = (one!.hours[hourLabel(DAY)] as Breakdown).all;
    expect(midnight.busyCpuSeconds).toBe(0);
    expect(midnight.idleCpuSeconds).toBeCloseTo(2 * 3600, 6);
    const [three] = await store.readDays('INSTANCE', '2025-03-10', ['one-3']);
    expect(three!.totals.all.busyCpuSeconds).toBe(0);
    expect(await ledgerBetween(store, DAY, DAY + DAY_MS)).not.toEqual(ledger);

    // What the source holds now is what the store holds: a re-ingest keeps nothing.
    expect(await ingest(false)).toMatchObject({ okHours: 24, kept: [] });
  });
});
