import type { ApolloServerPlugin, BaseContext } from '@apollo/server';
import {
  type DocumentNode,
  type FieldNode,
  type FragmentDefinitionNode,
  getNamedType,
  getNullableType,
  GraphQLError,
  type GraphQLField,
  type GraphQLNamedType,
  type GraphQLSchema,
  isInterfaceType,
  isListType,
  isObjectType,
  Kind,
  type OperationDefinitionNode,
  SchemaMetaFieldDef,
  type SelectionSetNode,
  TypeMetaFieldDef,
  TypeNameMetaFieldDef,
  valueFromASTUntyped,
} from 'graphql';

import {
  bucketStart,
  ceilHour,
  floorHour,
  type Granularity,
  GRANULARITIES,
  HOUR_MS,
  nextBucketStart,
} from '../domain/time';
import { QueryLimitError, ServerBusyError } from '../errors';
import { parseIsoDateTime } from '../schema/date-time';
import { MAX_KEYS_PER_QUERY, validateRange } from '../services/validation';
import type { AnswerBudget } from './answer-budget';
import { markOf } from './request-mark';

/**
 * Limits on one operation, checked on the parsed operation and its variables before anything runs
 * (docs/OPERATIONS.md, "Hostile queries"). The cost approximates the work: the values the answer can hold, with each list
 * at its expected length, plus keys × buckets for every series built, since a series computes all
 * its buckets whatever is selected.
 */
export interface OperationLimits {
  /** Nested fields; root fields are depth 1. */
  maxDepth: number;
  /** Fields at the root, counted through fragments. */
  maxRootFields: number;
  /** Aliased fields anywhere, counted through fragments: aliases are how one query asks many times. */
  maxAliases: number;
  maxCost: number;
}

/**
 * Depth 15: the introspection query of graphql-js 16 (GraphiQL, code generators) nests exactly that
 * deep; queries on our own types nest at most 5. Cost 1,100,000: the contract allows an hourly
 * series of 366 days with any selection, and one with every field, `byMachine` included, costs
 * about 1,040,000 (its buckets' machines are guessed at 10 types); answered uncached it took
 * 0.4–0.6 s and 17 MB of JSON on a 2-vCPU EPYC (2026-11-27). Also within it: ten hourly series of
 * a year with every bucket figure but no machines (about 100,000 each), or 200 keys of daily
 * series over a year with one figure per bucket.
 */
export const DEFAULT_OPERATION_LIMITS: OperationLimits = {
  maxDepth: 15,
  maxRootFields: 100,
  maxAliases: 100,
  maxCost: 1_100_000,
};

/** Tokens the parser reads before giving up: bounds the work of parsing and validating a request. */
export const MAX_DOCUMENT_TOKENS = 20_000;

export interface OperationMeasure {
  depth: number;
  rootFields: number;
  aliases: number;
  cost: number;
}

/** Expected lengths of lists whose length the arguments do not give. */
const MACHINE_TYPES_GUESS = 10;
const OTHER_LIST_GUESS = 10;

type Variables = Record<string, unknown>;

interface Measure {
  cost: number;
  depth: number;
  aliases: number;
  /** Fields directly in the selection set (through fragments): the root fields, at the root. */
  fields: number;
}

const NOTHING: Measure = { cost: 0, depth: 0, aliases: 0, fields: 0 };

/**
 * Measures an operation without expanding it: a fragment is measured once per series length it is
 * used under, so a document whose fragments spread each other twice over (a "fragment bomb") costs
 * linear time to measure while its counts grow as its expansion would. Assumes a validated document.
 */
export function measureOperation(
  schema: GraphQLSchema,
  document: DocumentNode,
  operation: OperationDefinitionNode,
  variables: Variables | undefined,
): OperationMeasure {
  const fragments = new Map<string, FragmentDefinitionNode>();
  for (const definition of document.definitions) {
    if (definition.kind === Kind.FRAGMENT_DEFINITION) fragments.set(definition.name.value, definition);
  }
  const values = withDefaults(operation, variables);
  const memo = new Map<string, Measure>();

  const measureSelections = (
    selectionSet: SelectionSetNode,
    parent: GraphQLNamedType | undefined,
    buckets: number,
  ): Measure => {
    const sum = { ...NOTHING };
    for (const selection of selectionSet.selections) {
      let part: Measure;
      if (selection.kind === Kind.FIELD) {
        part = measureField(selection, parent, buckets);
      } else if (selection.kind === Kind.INLINE_FRAGMENT) {
        const type = selection.typeCondition ? schema.getType(selection.typeCondition.name.value) : parent;
        part = measureSelections(selection.selectionSet, type ?? undefined, buckets);
      } else {
        part = measureFragment(selection.name.value, buckets);
      }
      sum.cost += part.cost;
      sum.depth = Math.max(sum.depth, part.depth);
      sum.aliases += part.aliases;
      sum.fields += part.fields;
    }
    return sum;
  };

  const measureFragment = (name: string, buckets: number): Measure => {
    const memoKey = `${name}\u0000${buckets}`;
    let measure = memo.get(memoKey);
    if (!measure) {
      const fragment = fragments.get(name);
      measure = fragment
        ? measureSelections(
            fragment.selectionSet,
            schema.getType(fragment.typeCondition.name.value) ?? undefined,
            buckets,
          )
        : NOTHING;
      memo.set(memoKey, measure);
    }
    return measure;
  };

  const measureField = (field: FieldNode, parent: GraphQLNamedType | undefined, buckets: number): Measure => {
    const definition = fieldDefinition(schema, parent, field.name.value);
    const type = definition ? getNullableType(definition.type) : undefined;
    const isList = type !== undefined && isListType(type);
    const args = () => argumentValues(field, values);
    let seriesWork = 0;
    let length = isList ? OTHER_LIST_GUESS : 1;
    let childBuckets = buckets;
    if (
      parent === schema.getQueryType() &&
      (field.name.value === 'usageSeries' || field.name.value === 'usageSeriesMany')
    ) {
      const given = args();
      const keys = field.name.value === 'usageSeries' ? 1 : keyCount(given.keys);
      childBuckets = seriesBuckets(given);
      seriesWork = keys * childBuckets;
      length = isList ? keys : 1;
    } else if (isList) {
      length = listLength(parent?.name, field.name.value, buckets);
    }
    const children = field.selectionSet
      ? measureSelections(field.selectionSet, definition && getNamedType(definition.type), childBuckets)
      : { ...NOTHING, cost: 1 };
    return {
      // At least 1: even a field refused before it reads anything is a field.
      cost: Math.max(1, seriesWork + length * children.cost),
      depth: 1 + children.depth,
      aliases: (field.alias ? 1 : 0) + children.aliases,
      fields: 1,
    };
  };

  const root = measureSelections(
    operation.selectionSet,
    schema.getRootType(operation.operation) ?? undefined,
    0,
  );
  return { depth: root.depth, rootFields: root.fields, aliases: root.aliases, cost: root.cost };
}

/** Throws QUERY_TOO_DEEP or QUERY_TOO_COMPLEX, naming the limit, when the operation goes over one. */
export function enforceOperationLimits(measure: OperationMeasure, limits: OperationLimits): void {
  const over = (actual: number, maximum: number) => actual > maximum;
  if (over(measure.depth, limits.maxDepth)) {
    throw new QueryLimitError(
      'QUERY_TOO_DEEP',
      `The operation nests ${measure.depth} fields deep; at most ${limits.maxDepth} are allowed`,
      { name: 'depth', maximum: limits.maxDepth, actual: measure.depth },
    );
  }
  if (over(measure.rootFields, limits.maxRootFields)) {
    throw new QueryLimitError(
      'QUERY_TOO_COMPLEX',
      `The operation asks for ${measure.rootFields} root fields; at most ${limits.maxRootFields} are allowed`,
      { name: 'rootFields', maximum: limits.maxRootFields, actual: measure.rootFields },
    );
  }
  if (over(measure.aliases, limits.maxAliases)) {
    throw new QueryLimitError(
      'QUERY_TOO_COMPLEX',
      `The operation holds ${measure.aliases} aliased fields; at most ${limits.maxAliases} are allowed`,
      { name: 'aliases', maximum: limits.maxAliases, actual: measure.aliases },
    );
  }
  if (over(measure.cost, limits.maxCost)) {
    throw new QueryLimitError(
      'QUERY_TOO_COMPLEX',
      `The operation's estimated cost is ${formatCost(measure.cost)}, over the limit of ${formatCost(limits.maxCost)}: ` +
        'ask for fewer keys, a coarser granularity or a shorter range, or split it into several requests',
      { name: 'cost', maximum: limits.maxCost, actual: Math.min(measure.cost, Number.MAX_SAFE_INTEGER) },
    );
  }
}

/**
 * Refuses over-limit operations after validation and before execution, so nothing is read for
 * them; then, given a budget, admits the operation's cost into it or refuses it SERVER_BUSY.
 */
export function operationLimitsPlugin(
  limits: OperationLimits,
  budget?: AnswerBudget,
): ApolloServerPlugin<BaseContext> {
  return {
    async requestDidStart() {
      return {
        async didResolveOperation({ schema, document, operation, request, contextValue }) {
          // graphql-js finds no operation to run only when executing, and Apollo calls that an
          // internal error: refused here as the client's mistake it is.
          if (!operation) throw noSuchOperation(request.operationName);
          // graphql-js finds a missing root type only when executing, and Apollo calls that an
          // internal error: refused here as the client's mistake it is.
          if (!schema.getRootType(operation.operation)) {
            throw new GraphQLError(
              `This API has no ${operation.operation} operations: it answers queries and mutations`,
              { extensions: { code: 'GRAPHQL_VALIDATION_FAILED', http: { status: 400 } } },
            );
          }
          const measure = measureOperation(schema, document, operation, request.variables);
          enforceOperationLimits(measure, limits);
          if (budget === undefined) return;
          if (!budget.tryTake(measure.cost)) throw new ServerBusyError(measure.cost, budget.maxCost);
          // Given back by the HTTP layer once the answer is sent or its client gone.
          markOf(contextValue).heldCost = measure.cost;
        },
      };
    },
  };
}

/** Characters of a client's operation name quoted back: it may be anything, of any length. */
const QUOTED_NAME_CHARS = 80;

function noSuchOperation(name: string | undefined): GraphQLError {
  const quoted = name === undefined ? '' : JSON.stringify(name.slice(0, QUOTED_NAME_CHARS));
  const message =
    name === undefined
      ? 'The document holds several operations: name the one to run in operationName'
      : `operationName: the document holds no operation named ${quoted}${name.length > QUOTED_NAME_CHARS ? '…' : ''}`;
  return new GraphQLError(message, { extensions: { code: 'BAD_REQUEST', http: { status: 400 } } });
}

function formatCost(cost: number): string {
  return Number.isFinite(cost) && cost < 1e15 ? Math.round(cost).toLocaleString('en') : 'beyond counting';
}

function fieldDefinition(
  schema: GraphQLSchema,
  parent: GraphQLNamedType | undefined,
  name: string,
): GraphQLField<unknown, unknown> | undefined {
  if (name === TypeNameMetaFieldDef.name) return TypeNameMetaFieldDef;
  if (parent === schema.getQueryType()) {
    if (name === SchemaMetaFieldDef.name) return SchemaMetaFieldDef;
    if (name === TypeMetaFieldDef.name) return TypeMetaFieldDef;
  }
  return parent && (isObjectType(parent) || isInterfaceType(parent)) ? parent.getFields()[name] : undefined;
}

/** A series' buckets, and its columns, are as long as the series; a bucket's machines are a guess. */
function listLength(parentName: string | undefined, fieldName: string, buckets: number): number {
  if ((parentName === 'UsageSeries' && fieldName === 'buckets') || parentName === 'UsageColumns')
    return buckets;
  if (parentName === 'UsageBucket' && fieldName === 'byMachine') return MACHINE_TYPES_GUESS;
  return OTHER_LIST_GUESS;
}

/** The variables as execution will see them: those given, else the operation's defaults. */
function withDefaults(operation: OperationDefinitionNode, given: Variables | undefined): Variables {
  // Built by defining properties, never assigning them: a variable may be called `__proto__`.
  const defaults = Object.fromEntries(
    (operation.variableDefinitions ?? []).flatMap((definition) =>
      definition.defaultValue
        ? [[definition.variable.name.value, valueFromASTUntyped(definition.defaultValue)]]
        : [],
    ),
  );
  return { ...defaults, ...given };
}

function argumentValues(field: FieldNode, variables: Variables): Record<string, unknown> {
  return Object.fromEntries(
    (field.arguments ?? []).map((argument) => [
      argument.name.value,
      valueFromASTUntyped(argument.value, variables),
    ]),
  );
}

/**
 * What the resolver would read for. A list of more keys than allowed, or a value input coercion
 * refuses, reads nothing; a lone string is coerced to a list of one.
 */
function keyCount(keys: unknown): number {
  const count = Array.isArray(keys) ? keys.length : typeof keys === 'string' ? 1 : 0;
  return count <= MAX_KEYS_PER_QUERY ? count : 0;
}

const GRANULARITY_NAMES: ReadonlySet<string> = new Set<string>(GRANULARITIES);

/** Buckets of the series the arguments ask for; 0 when the resolver would refuse them before reading. */
function seriesBuckets(args: Record<string, unknown>): number {
  const { granularity } = args;
  if (typeof granularity !== 'string' || !GRANULARITY_NAMES.has(granularity)) return 0;
  const from = typeof args.from === 'string' ? parseIsoDateTime(args.from) : null;
  const to = typeof args.to === 'string' ? parseIsoDateTime(args.to) : null;
  if (from === null || to === null) return 0;
  try {
    validateRange({ from: new Date(from), to: new Date(to), granularity: granularity as Granularity });
  } catch {
    return 0;
  }
  return countBuckets(granularity as Granularity, from, to);
}

/** Buckets overlapping [from, to), for a range within the granularity's limit. */
function countBuckets(granularity: Granularity, from: number, to: number): number {
  if (granularity === 'HOUR') return (ceilHour(to) - floorHour(from)) / HOUR_MS;
  let count = 0;
  for (let start = bucketStart(granularity, from); start < to; start = nextBucketStart(granularity, start))
    count++;
  return count;
}
