import type { Store } from '../../../src/store/store';
import { describeStoreDamage } from './damage';
import { describeFailedHours } from './failed-hours';
import type { StoreContext, StoreFixture } from './fixtures';
import { describeHandles } from './handles';
import { describeKeysAndLedger } from './keys-and-ledger';
import { describeReads } from './reads';
import { describeReingest } from './re-ingest';

export * from './fixtures';

/**
 * The behaviour every Store backend must show. A new backend is one line in a test:
 * `describeStore('name', makeFixture)`, where `makeFixture` gives an empty store (test/unit/store/
 * contract.test.ts runs every backend).
 */
export function describeStore(name: string, makeFixture: () => Promise<StoreFixture>): void {
  describe(`Store contract: ${name}`, () => {
    let store: Store;
    let fixture: StoreFixture;
    const others: Store[] = [];
    const another = async (): Promise<Store> => {
      const other = await fixture.openAnother();
      others.push(other);
      return other;
    };
    const current = (): StoreContext => ({ store, fixture, another });

    beforeEach(async () => {
      fixture = await makeFixture();
      store = fixture.store;
    });

    afterEach(async () => {
      for (const other of others.splice(0)) await other.close();
      await store.close();
      await fixture.cleanup();
    });

    describeReads(current);
    describeFailedHours(current);
    describeReingest(current);
    describeKeysAndLedger(current);
    describeHandles(current);
    describeStoreDamage(current);

    it('is readable and closes', async () => {
      await expect(store.checkReadable()).resolves.toBeUndefined();
    });
  });
}
