import { registerEnumType } from 'type-graphql';
import { LEVELS, type Level } from '../domain/levels';
import type { Granularity } from '../domain/time';
import type { BucketStatus } from '../services/usage-series';

/** GraphQL enum values equal the domain's strings, so resolvers pass them through unchanged. */
function enumOf<T extends string>(values: readonly T[]): { [K in T]: K } {
  return Object.fromEntries(values.map((value) => [value, value])) as { [K in T]: K };
}

export const UsageLevel = enumOf<Level>(LEVELS);
registerEnumType(UsageLevel, {
  name: 'UsageLevel',
  description: 'What a key names: a project, an experiment, a machine type, a user or an instance.',
});

export const GranularityEnum = enumOf<Granularity>(['HOUR', 'DAY', 'MONTH', 'YEAR']);
registerEnumType(GranularityEnum, { name: 'Granularity', description: 'The length of a bucket (UTC).' });

export const BucketStatusEnum = enumOf<BucketStatus>(['OK', 'PARTIAL', 'FAILED', 'MISSING']);
registerEnumType(BucketStatusEnum, {
  name: 'BucketStatus',
  description: "What the ledger says of a bucket's counted hours.",
  valuesConfig: {
    OK: { description: 'Every hour ok.' },
    PARTIAL: { description: 'Some hours ok, some failed or not ingested.' },
    FAILED: { description: 'No hour ok, some failed.' },
    MISSING: { description: 'No hour ingested at all, or a key the store has never held.' },
  },
});
