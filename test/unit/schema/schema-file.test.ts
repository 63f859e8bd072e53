import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { buildAppSchema, renderSchemaFile } from '../../../src/app-schema';

const SCHEMA_FILE = resolve(__dirname, '../../../schema.graphql');

describe('schema.graphql', () => {
  it('is the schema the code builds', async () => {
    const emitted = renderSchemaFile(await buildAppSchema());
    const checkedIn = readFileSync(SCHEMA_FILE, 'utf8');
    if (checkedIn !== emitted) {
      throw new Error(
        'schema.graphql differs from the schema the code builds. Regenerate it with ' +
          '`npm run build && node dist/cli/emit-schema.js`, review the diff, and commit it.',
      );
    }
  });
});
