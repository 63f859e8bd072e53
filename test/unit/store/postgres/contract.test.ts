import { openPostgresStore } from '../../../../src/store/postgres';
import { describeInstanceIndex } from '../../../support/describe-instance-index';
import { describeStore } from '../../../support/describe-store';
import { createTestDatabase } from '../../../support/postgres';

describeStore('postgres', async () => {
  const database = await createTestDatabase();
  return {
    store: await openPostgresStore({ url: database.url }),
    openAnother: () => openPostgresStore({ url: database.url }),
    // Damage here is a row whose figures cannot be decoded (a bad restore, a hand edit).
    damageDay: async (level, key, date) => {
      await database.query(
        `UPDATE usage_hour h SET figures = '\\x00'::bytea FROM usage_key k
           WHERE h.key_id = k.id AND k.level = $1 AND k.key = $2 AND h.hour >= $3::date
             AND h.hour < $3::date + 1 AND NOT h.failed`,
        [level, key, date],
      );
    },
    cleanup: () => database.drop(),
  };
});

describeInstanceIndex('postgres', async () => {
  const database = await createTestDatabase();
  return { store: await openPostgresStore({ url: database.url }), cleanup: () => database.drop() };
});
