import { writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { buildAppSchema, renderSchemaFile } from '../app-schema';

/** From both src/cli and dist/cli, two levels up is the repository root. */
export const SCHEMA_FILE = resolve(__dirname, '../../schema.graphql');

async function main(): Promise<void> {
  writeFileSync(SCHEMA_FILE, renderSchemaFile(await buildAppSchema()));
  console.log(`wrote ${SCHEMA_FILE}`);
}

if (require.main === module) {
  main().catch((error: unknown) => {
    console.error(error);
    process.exitCode = 1;
  });
}
