import 'reflect-metadata';
import { type GraphQLSchema, printSchema } from 'graphql';
import { buildSchema } from 'type-graphql';
import { resolvers } from './resolvers';

export { type AppContext, createRequestContext, type RequestContextDeps } from './resolvers';

/**
 * The API's schema (contract section 4), built from the resolvers: the one place that joins them to
 * the types of src/schema, which never import resolvers. Build once per process; the context is
 * per request.
 */
export function buildAppSchema(): Promise<GraphQLSchema> {
  return buildSchema({ resolvers: [...resolvers], validate: false });
}

export const SCHEMA_FILE_HEADER =
  '# Emitted from the code-first schema: do not edit. Regenerate with\n' +
  '#   npm run build && node dist/cli/emit-schema.js\n\n';

/** The text of `schema.graphql`: printed in declaration order, which follows the contract's. */
export function renderSchemaFile(schema: GraphQLSchema): string {
  return SCHEMA_FILE_HEADER + printSchema(schema) + '\n';
}
