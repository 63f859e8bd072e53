import {
  getNamedType,
  getNullableType,
  type GraphQLField,
  type GraphQLInputType,
  GraphQLEnumType,
  GraphQLInputObjectType,
  GraphQLList,
  GraphQLObjectType,
  GraphQLScalarType,
  type GraphQLSchema,
  isInputObjectType,
  isInterfaceType,
  isObjectType,
  isUnionType,
} from 'graphql';
import { seededRandom } from './store-invariants';
import { testAppSchema, type TestServer } from './http';

/**
 * The GraphQL fuzzer of test/e2e/fuzz-queries.test.ts: a seeded generator of operations that knows
 * the schema and breaks things on purpose, what it sends and what it reads back, and the checks
 * the fuzz tests share.
 */

const CONCURRENCY = 4;

export type Random = () => number;

class Gen {
  constructor(
    private readonly random: Random,
    private readonly schema: GraphQLSchema,
  ) {}

  int(n: number): number {
    return Math.floor(this.random() * n);
  }

  chance(p: number): boolean {
    return this.random() < p;
  }

  /** Half the operations are made with no deliberate mistakes: they mostly run. */
  noise = 1;

  /** A deliberate mistake, with probability `p` in a noisy operation. */
  bad(p: number): boolean {
    return this.noise > 0 && this.chance(p);
  }

  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)];
  }

  name(): string {
    return this.pick(['a', 'b', 'x1', 'usage', 'key', 'Query', '_', 'busyKwh', 'buckets', 'id', 'zz9']);
  }

  string(): string {
    return this.pick<() => string>([
      () => this.pick(['IDAaaS', 'ISIS', 'unknown', '', ' ', 'ARTEMIS_MATLAB', '10.0.0.1:9100']),
      () => '%2E%2E/'.repeat(this.int(5)) + 'etc',
      () => '\u0000\u2028"\\{[(\ud800',
      () => 'k'.repeat(this.pick([1, 255, 256, 5000])),
      () => String.fromCharCode(...Array.from({ length: this.int(12) }, () => this.int(0xffff))),
    ])();
  }

  date(): string {
    return this.pick<() => string>([
      () => new Date(Date.UTC(2025, 8, 20) + (this.int(96) - 24) * 3_600_000).toISOString(),
      () => new Date(Date.UTC(1970 + this.int(200), this.int(12), 1 + this.int(28))).toISOString(),
      () =>
        this.pick([
          '2025-09-21',
          '2025-09-21T10:00:00',
          '2025-02-30T00:00:00Z',
          'yesterday',
          '',
          '+275760-09-13T00:00:00Z',
        ]),
      () => '2025-09-21T10:00:00' + this.pick(['Z', '+01:00', '.5Z', '+25:00', 'z']),
    ])();
  }

  /** A value for `type`, or (sometimes) one of the wrong type, as JSON. */
  value(type: GraphQLInputType, depth = 0): unknown {
    if (this.bad(0.06)) return this.wrongValue(depth);
    const nullable = getNullableType(type);
    if (nullable instanceof GraphQLList) {
      const length = this.bad(0.05) ? 201 + this.int(100) : 1 + this.int(4);
      return Array.from({ length }, () => this.value(nullable.ofType as GraphQLInputType, depth + 1));
    }
    if (nullable instanceof GraphQLEnumType) return this.pick(nullable.getValues()).name;
    if (isInputObjectType(nullable)) {
      const input = nullable as GraphQLInputObjectType;
      return Object.fromEntries(
        Object.values(input.getFields()).map((f) => [f.name, this.value(f.type, depth + 1)]),
      );
    }
    const scalar = nullable as GraphQLScalarType;
    switch (scalar.name) {
      case 'DateTime':
        return this.date();
      case 'Int':
        return this.pick([0, 1, 7, 365, -1, 2 ** 31, 1.5, 100000]);
      case 'Float':
        return this.pick([0, 1.5, -1, 1e308]);
      case 'Boolean':
        return this.chance(0.5);
      default:
        return this.string();
    }
  }

  wrongValue(depth: number): unknown {
    return this.pick<() => unknown>([
      () => null,
      () => 12,
      () => true,
      () => this.string(),
      () => ({ a: 1 }),
      () => (depth < 3 ? [this.wrongValue(depth + 1)] : []),
      () => JSON.parse(`${'['.repeat(40)}1${']'.repeat(40)}`),
    ])();
  }

  /** `value` written as a GraphQL literal. */
  literal(value: unknown, type?: GraphQLInputType): string {
    const named = type ? getNamedType(type) : undefined;
    if (value === null) return 'null';
    if (Array.isArray(value)) {
      const item =
        type && getNullableType(type) instanceof GraphQLList
          ? (getNullableType(type) as GraphQLList<GraphQLInputType>).ofType
          : undefined;
      return `[${value.map((v) => this.literal(v, item)).join(', ')}]`;
    }
    if (typeof value === 'object') {
      return `{${Object.entries(value as Record<string, unknown>)
        .map(([k, v]) => `${k}: ${this.literal(v)}`)
        .join(', ')}}`;
    }
    if (typeof value === 'string' && named instanceof GraphQLEnumType && named.getValue(value)) return value;
    if (typeof value === 'string' && this.bad(0.03)) return value.replace(/[^A-Za-z_]/g, '') || 'BOGUS';
    return JSON.stringify(value);
  }

  selection(type: GraphQLObjectType, depth: number, fragments: string[]): string {
    const fields = Object.values(type.getFields());
    const parts: string[] = [];
    const count = 1 + this.int(4);
    for (let i = 0; i < count; i++) {
      const roll = this.random();
      if (roll < 0.04 * this.noise) parts.push(this.name());
      else if (roll < 0.08) parts.push('__typename');
      else if (roll < 0.1 && depth < 6)
        parts.push(`... on ${type.name} { ${this.selection(type, depth + 1, fragments)} }`);
      else if (roll < 0.12 && depth < 6) {
        const name = `F${fragments.length}`;
        fragments.push(`fragment ${name} on ${type.name} { ${this.selection(type, depth + 1, fragments)} }`);
        parts.push(`...${name}`);
      } else parts.push(this.field(this.pick(fields), depth, fragments));
    }
    return parts.join(' ');
  }

  field(
    field: GraphQLField<unknown, unknown>,
    depth: number,
    fragments: string[],
    variables?: Variables,
  ): string {
    const alias = this.chance(0.15) ? `${this.name()}${this.int(1000)}: ` : '';
    const args = field.args
      .filter(() => !this.bad(0.07))
      .map((arg) => {
        if (variables && this.chance(0.5))
          return `${arg.name}: $${variables.add(arg.type, this.value(arg.type))}`;
        return `${arg.name}: ${this.literal(this.value(arg.type), arg.type)}`;
      });
    if (this.bad(0.03)) args.push(`${this.name()}: 1`);
    const argText = args.length > 0 ? `(${args.join(', ')})` : '';
    const named = getNamedType(field.type);
    let sub = '';
    if (isObjectType(named) || isInterfaceType(named) || isUnionType(named)) {
      if (!this.bad(0.03) && isObjectType(named) && depth < 8)
        sub = ` { ${this.selection(named, depth + 1, fragments)} }`;
    } else if (this.bad(0.03)) {
      sub = ' { id }';
    }
    return `${alias}${field.name}${argText}${sub}`;
  }

  operation(): { query: string; variables?: Record<string, unknown>; method: 'GET' | 'POST' } {
    const query = this.schema.getQueryType()!;
    this.noise = this.chance(0.5) ? 1 : 0;
    const fragments: string[] = [];
    const variables = new Variables(this);
    const roots = Array.from({ length: 1 + this.int(3) }, () =>
      this.field(this.pick(Object.values(query.getFields())), 1, fragments, variables),
    );
    const declared = variables.declarations();
    const heads = ['', 'query ', `query Q${this.int(9)}`, 'mutation ', 'subscription '] as const;
    const head = this.noise > 0 ? this.pick(heads) : this.pick(heads.slice(0, 3));
    let text = `${head}${declared && head !== '' ? declared : ''} { ${roots.join(' ')} } ${fragments.join(' ')}`;
    if (declared && head === '') text = `query${declared} { ${roots.join(' ')} } ${fragments.join(' ')}`;
    if (this.bad(0.05)) text = text.slice(0, this.int(text.length));
    if (this.bad(0.03)) text = text.replace(/[{}()[\]]/, '');
    if (this.bad(0.02)) text = '';
    const method = this.chance(0.15) ? 'GET' : 'POST';
    return { query: text, variables: this.bad(0.05) ? { nope: 1 } : variables.values, method };
  }
}

class Variables {
  readonly values: Record<string, unknown> = {};
  private readonly types: string[] = [];

  constructor(private readonly gen: Gen) {}

  add(type: GraphQLInputType, value: unknown): string {
    const name = `v${this.types.length}`;
    // Sometimes declared with another type than the argument's, or left out of the values.
    const declared = this.gen.bad(0.05)
      ? this.gen.pick(['String', 'Int', '[String]', 'DateTime!', 'Nope'])
      : String(type);
    this.types.push(`$${name}: ${declared}`);
    if (!this.gen.bad(0.04)) this.values[name] = value;
    return name;
  }

  declarations(): string {
    return this.types.length > 0 ? `(${this.types.join(', ')})` : '';
  }
}

export interface FuzzReport {
  problems: string[];
  statuses: Map<number, number>;
  codes: Map<string, number>;
  withData: number;
}

/** Sends `count` generated operations, `authorization` choosing each one's header, and reads every answer. */
export async function fuzz(
  server: TestServer,
  seed: number,
  count: number,
  authorization: (random: Random) => string | undefined = () => undefined,
): Promise<FuzzReport> {
  const random = seededRandom(seed);
  const gen = new Gen(random, await testAppSchema());
  const cases = Array.from({ length: count }, () => ({
    ...gen.operation(),
    authorization: authorization(random),
  }));
  const report: FuzzReport = { problems: [], statuses: new Map(), codes: new Map(), withData: 0 };

  const send = async (index: number): Promise<void> => {
    const { query, variables, method } = cases[index];
    const auth: Record<string, string> =
      cases[index].authorization === undefined ? {} : { authorization: cases[index].authorization! };
    let res: Response;
    if (method === 'GET') {
      const search = new URLSearchParams({ query, variables: JSON.stringify(variables ?? {}) });
      res = await fetch(`${server.url}?${search}`, {
        headers: { 'apollo-require-preflight': 'true', ...auth },
      });
    } else {
      res = await fetch(server.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...auth },
        body: JSON.stringify({ query, variables }),
      });
    }
    report.statuses.set(res.status, (report.statuses.get(res.status) ?? 0) + 1);
    const text = await res.text();
    const where = `case ${index} (${method} ${JSON.stringify(query).slice(0, 300)})`;
    if (res.status >= 500) report.problems.push(`${where}: HTTP ${res.status} ${text.slice(0, 200)}`);
    let body: { data?: unknown; errors?: Array<{ message?: unknown; extensions?: { code?: unknown } }> };
    try {
      body = JSON.parse(text);
    } catch {
      // A request too long for a URL is refused by Node before it reaches us: 414/431, not JSON.
      if (!(method === 'GET' && (res.status === 414 || res.status === 431)))
        report.problems.push(`${where}: not JSON: ${text.slice(0, 200)}`);
      return;
    }
    if (body.data) report.withData++;
    for (const error of body.errors ?? []) {
      const code = error.extensions?.code;
      if (typeof code !== 'string' || code === '')
        report.problems.push(`${where}: error without a code: ${JSON.stringify(error)}`);
      else report.codes.set(code, (report.codes.get(code) ?? 0) + 1);
      if (code === 'INTERNAL_SERVER_ERROR') {
        report.problems.push(`${where} variables ${JSON.stringify(variables).slice(0, 300)}: internal error`);
      }
    }
  };

  let next = 0;
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < cases.length) await send(next++);
    }),
  );
  process.stderr.write(
    `fuzz seed ${seed}: ${count} cases, ${report.withData} answered data; statuses ${JSON.stringify(Object.fromEntries(report.statuses))}; codes ${JSON.stringify(Object.fromEntries(report.codes))}\n`,
  );
  return report;
}

export function expectNoProblems(server: TestServer, report: FuzzReport): void {
  const internal = server.logs.filter((line) => line.msg === 'graphql: internal error');
  expect({
    problems: report.problems.slice(0, 10),
    logged: internal.slice(0, 3).map((l) => `${l.error}: ${String(l.stack).slice(0, 600)}`),
  }).toEqual({ problems: [], logged: [] });
}

export async function expectStillServing(server: TestServer, authorization?: string): Promise<void> {
  expect((await fetch(`${server.origin}/healthz`)).status).toBe(200);
  const res = await fetch(server.url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(authorization ? { authorization } : {}) },
    body: JSON.stringify({ query: '{ usageKeys(level: PROJECT) }' }),
  });
  expect(await res.json()).toEqual({ data: { usageKeys: ['IDAaaS', 'ISIS'] } });
}
