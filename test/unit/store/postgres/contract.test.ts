import { openPostgresStore } from '../../../../src/store/postgres';
import { describeInstanceIndex } from '../../../support/describe-instance-index';
import { describeStore } from '../../../support/describe-store';
import { createTestDatabase } from '../../../support/postgres';

describeStore(
  'postgres',
  async () => {
    const database = await createTestDatabase();
    return {
      store: await openPostgresStore({ url: database.url }),
      openAnother: () => openPostgresStore({ url: database.url }),
      cleanup: () => database.drop(),
    };
  },
  { damage: false },
);

describeInstanceIndex('postgres', async () => {
  const database = await createTestDatabase();
  return { store: await openPostgresStore({ url: database.url }), cleanup: () => database.drop() };
});
