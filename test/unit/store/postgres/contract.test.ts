import { openPostgresStore } from '../../../../src/store/postgres';
import { describeStore } from '../../../support/describe-store';
import { createTestDatabase } from '../../../support/postgres';

describeStore('postgres', async () => {
  const database = await createTestDatabase();
  return { store: await openPostgresStore({ url: database.url }), cleanup: () => database.drop() };
});
