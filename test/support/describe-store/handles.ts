import { StoreLockedError } from '../../../src/store/store';
import {
  apply,
  at,
  batch,
  expectRollupsEqualDays,
  failedHour,
  okHour,
  usage,
  type StoreContext,
} from './fixtures';

/** The shared suite (describeStore): one writer at a time, versions, and what other handles see. */
export function describeHandles(current: () => StoreContext): void {
  it('lets one writer in at a time across handles, naming the holder to the others', async () => {
    const { store, another } = current();
    const other = await another();
    const writer = await store.openWriter({ purpose: 'the first writer' });
    const refused = other.openWriter({ purpose: 'the second writer' });
    await expect(refused).rejects.toBeInstanceOf(StoreLockedError);
    await expect(refused).rejects.toThrow('the first writer');
    // The same handle is refused too: one writer means one, not one per handle.
    await expect(store.openWriter({ purpose: 'a third writer' })).rejects.toBeInstanceOf(StoreLockedError);
    const waiting = other.openWriter({ purpose: 'the second writer', waitMs: 30_000, pollMs: 10 });
    await writer.applyBatch(batch([okHour('2025-09-21T03:00Z')], []));
    await writer.release();
    await writer.release();
    const second = await waiting;
    await second.applyBatch(batch([okHour('2025-09-21T04:00Z')], []));
    await second.release();
    expect([...(await store.readLedger(at('2025-09-21T00:00Z'), at('2025-09-22T00:00Z'))).keys()]).toEqual([
      at('2025-09-21T03:00Z'),
      at('2025-09-21T04:00Z'),
    ]);
  });

  it('gives a new version after every batch that changes anything, the same to every handle', async () => {
    const { store, another } = current();
    const other = await another();
    const seen = [await store.version()];
    const steps = [
      batch(
        [okHour('2025-09-21T03:00Z')],
        [{ level: 'USER', key: 'al', date: '2025-09-21', hours: { '03:00': usage(1) }, totals: usage(1) }],
      ),
      batch([failedHour('2025-09-21T04:00Z', 'down')], []),
      { ...batch([okHour('2025-09-21T05:00Z')], []), instanceProjects: { 'vm-1:9100': ['alpha'] } },
      batch([okHour('2025-09-21T03:00Z')], []),
    ];
    for (const step of steps) {
      await apply(store, step);
      const version = await store.version();
      expect(version).toBeDefined();
      expect(seen).not.toContain(version);
      // Another handle (a replica, say) may take a moment to see it, never longer than a few.
      const deadline = Date.now() + 5000;
      while ((await other.version()) !== version && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      expect(await other.version()).toBe(version);
      seen.push(version);
    }
  });

  it('keeps roll-ups equal to their days for every reader while a writer is part-way', async () => {
    const { store, another } = current();
    const other = await another();
    const writer = await store.openWriter({ purpose: 'a backfill' });
    for (const date of ['2025-09-29', '2025-09-30', '2025-10-01', '2025-10-02']) {
      await writer.applyBatch(
        batch(
          [okHour(`${date}T12:00Z`)],
          [{ level: 'PROJECT', key: 'alpha', date, hours: { '12:00': usage(1) }, totals: usage(1) }],
        ),
      );
      await expectRollupsEqualDays(other, 'PROJECT', 'alpha', '2025');
    }
    await expectRollupsEqualDays(store, 'PROJECT', 'alpha', '2025');
    await writer.release();
    await expectRollupsEqualDays(other, 'PROJECT', 'alpha', '2025');
  });

  it('finishes on close what its writer left pending, and lets the next writer in', async () => {
    const { store, another } = current();
    const writer = await store.openWriter({ purpose: 'a backfill closed part-way' });
    await writer.applyBatch(
      batch(
        [okHour('2025-12-31T23:00Z'), okHour('2026-01-01T00:00Z')],
        [
          {
            level: 'PROJECT',
            key: 'alpha',
            date: '2025-12-31',
            hours: { '23:00': usage(1) },
            totals: usage(1),
          },
          {
            level: 'PROJECT',
            key: 'alpha',
            date: '2026-01-01',
            hours: { '00:00': usage(2) },
            totals: usage(2),
          },
        ],
      ),
    );
    await store.close();
    const other = await another();
    await expectRollupsEqualDays(other, 'PROJECT', 'alpha', '2025');
    await expectRollupsEqualDays(other, 'PROJECT', 'alpha', '2026');
    expect(await other.version()).toBeDefined();
    await (await other.openWriter({ purpose: 'the next writer' })).release();
  });

  it('keeps carbon intensities of settled hours for every handle, and no estimates', async () => {
    const { store, another } = current();
    const other = await another();
    const hour = at('2025-09-21T03:00Z');
    await store.intensityCache.put(
      new Map([
        [hour, { gPerKwh: 180, estimated: false, source: 'carbon-intensity-api' }],
        [hour + 3_600_000, { gPerKwh: 200, estimated: true, source: 'fallback' }],
      ]),
    );
    expect(await other.intensityCache.get(hour, hour + 2 * 3_600_000)).toEqual(
      new Map([[hour, { gPerKwh: 180, estimated: false, source: 'carbon-intensity-api' }]]),
    );
  });
}
