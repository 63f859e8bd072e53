import { main } from '../../../src/cli';
import { openPostgresStore } from '../../../src/store/postgres';
import { createTestDatabase, type TestDatabase } from '../../support/postgres';

describe('a database whose schema is newer than this carbonledger', () => {
  let database: TestDatabase;

  beforeAll(async () => {
    database = await createTestDatabase('cl_too_new');
    await (await openPostgresStore({ url: database.url })).close();
    await database.query(`INSERT INTO schema_migration (version, name) VALUES (999, 'from a newer build')`);
  });
  afterAll(() => database.drop());

  it('is refused by every command with one line saying what to do, exit 1, no stack trace', async () => {
    for (const argv of [
      ['migrate'],
      ['ingest', '--from', '2025-09-21T00:00:00Z', '--to', '2025-09-21T01:00:00Z'],
    ]) {
      let output = '';
      const capture = (chunk: unknown) => ((output += String(chunk)), true);
      const err = jest.spyOn(process.stderr, 'write').mockImplementation(capture);
      const out = jest.spyOn(process.stdout, 'write').mockImplementation(capture);
      const saved = { ...process.env };
      Object.assign(process.env, { CARBONLEDGER_CONFIG: '', DATABASE_URL: database.url });
      let code: number;
      try {
        code = await main(argv);
      } finally {
        process.env = saved;
        err.mockRestore();
        out.mockRestore();
      }
      expect({ argv, code }).toEqual({ argv, code: 1 });
      expect(output).toContain(
        `carbonledger ${argv[0]}: the database's schema is at version 999, newer than this carbonledger`,
      );
      expect(output).not.toMatch(/\n\s+at /);
      expect(output).not.toContain('\\n    at ');
    }
  });
});
