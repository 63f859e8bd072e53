import {
  buildSchema,
  type GraphQLNamedType,
  type GraphQLSchema,
  isEnumType,
  isNonNullType,
  isObjectType,
  isScalarType,
  isSpecifiedScalarType,
} from 'graphql';
import { buildAppSchema } from '../../../src/app-schema';
import { CONTRACT_SDL } from './contract-sdl';

const contract = buildSchema(CONTRACT_SDL);
let app: GraphQLSchema;
beforeAll(async () => {
  app = await buildAppSchema();
});

const contractTypes = Object.values(contract.getTypeMap()).filter(
  (type) => !type.name.startsWith('__') && !isSpecifiedScalarType(type),
);

const kindOf = (type: GraphQLNamedType) =>
  isScalarType(type) ? 'scalar' : isEnumType(type) ? 'enum' : isObjectType(type) ? 'object' : 'other';

describe('the emitted schema holds contract section 4 exactly', () => {
  it.each(contractTypes.map((type) => [type.name, type] as const))('%s', (name, expected) => {
    const actual = app.getType(name);
    expect(actual && kindOf(actual)).toBe(kindOf(expected));
    if (isEnumType(expected) && isEnumType(actual)) {
      expect(actual.getValues().map((v) => v.name)).toEqual(expected.getValues().map((v) => v.name));
    }
    if (isObjectType(expected) && isObjectType(actual)) {
      const actualFields = actual.getFields();
      for (const field of Object.values(expected.getFields())) {
        const got = actualFields[field.name];
        expect({ field: field.name, type: got && String(got.type) }).toEqual({
          field: field.name,
          type: String(field.type),
        });
        const gotArgs = new Map(got.args.map((arg) => [arg.name, arg]));
        for (const arg of field.args) {
          const gotArg = gotArgs.get(arg.name);
          expect({
            arg: `${field.name}(${arg.name})`,
            type: gotArg && String(gotArg.type),
            default: gotArg?.defaultValue,
          }).toEqual({
            arg: `${field.name}(${arg.name})`,
            type: String(arg.type),
            default: arg.defaultValue,
          });
        }
        // An extra argument must not be required, or the contract's queries would stop working.
        const extraRequired = got.args.filter(
          (arg) =>
            !field.args.some((a) => a.name === arg.name) &&
            isNonNullType(arg.type) &&
            arg.defaultValue === undefined,
        );
        expect(extraRequired.map((arg) => arg.name)).toEqual([]);
      }
    }
  });

  it('checks every type of the contract, so a broken fixture cannot pass silently', () => {
    expect(contractTypes.map((type) => type.name).sort()).toEqual(
      [
        'ActiveWorkspace',
        'BucketStatus',
        'BusyIdle',
        'DateTime',
        'Granularity',
        'MachineMetrics',
        'MachineUsage',
        'Query',
        'Stat',
        'UsageBucket',
        'UsageFigures',
        'UsageLevel',
        'UsageSeries',
      ].sort(),
    );
  });
});
