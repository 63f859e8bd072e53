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
    damageRollup: async (level, key, period) => {
      const [table, column, value] =
        period.length === 4 ? ['usage_year', 'year', period] : ['usage_month', 'month', `${period}-01`];
      await database.query(
        `UPDATE ${table} r SET figures = '\\x0102'::bytea FROM usage_key k
           WHERE r.key_id = k.id AND k.level = $1 AND k.key = $2 AND r.${column}::text = $3`,
        [level, key, value],
      );
    },
    rollupsSetAside: async () => {
      const rows = await database.query<{ kept: string }>(
        `SELECT s.kind || ' ' || k.level || ' ' || k.key || ' ' || s.period AS kept
         FROM usage_rollup_set_aside s JOIN usage_key k ON k.id = s.key_id`,
      );
      return rows.map(({ kept }) => kept);
    },
    cleanup: () => database.drop(),
  };
});

describeInstanceIndex('postgres', async () => {
  const database = await createTestDatabase();
  return { store: await openPostgresStore({ url: database.url }), cleanup: () => database.drop() };
});
