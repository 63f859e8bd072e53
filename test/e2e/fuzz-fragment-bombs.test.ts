import { execute, getOperationAST, parse, validate } from 'graphql';
import { systemClock } from '../../src/domain/clock';
import { DEFAULT_OPERATION_LIMITS, measureOperation } from '../../src/http/operation-limits';
import { rootFieldNames } from '../../src/http/root-fields';
import { silentLogger } from '../../src/log';
import { createRequestContext } from '../../src/app-schema';
import { FRAGMENT_BOMBS } from '../support/fragment-bombs';
import { countFragmentWalks } from '../support/fragment-walks';
import { expectStillServing } from '../support/graphql-fuzz';
import { startTestServer, testAppSchema, usageFixture, type TestServer } from '../support/http';

/** Fragment bombs (test/support/fragment-bombs.ts): walked linearly, and answered or refused with a code. */
describe('fragment bombs of several shapes', () => {
  let server: TestServer;

  beforeAll(async () => {
    server = await startTestServer({ executionTimeoutMs: 5000 });
  });
  afterAll(async () => {
    await server.close();
  });

  /** Fragment walks of everything the server runs over a document: validation, our plugins, execution. */
  async function walksOf(source: string): Promise<number> {
    const schema = await testAppSchema();
    const document = parse(source);
    const walks = countFragmentWalks(document);
    expect(validate(schema, document)).toEqual([]);
    const operation = getOperationAST(document)!;
    rootFieldNames(operation, document);
    const measure = measureOperation(schema, document, operation, undefined);
    if (measure.cost <= DEFAULT_OPERATION_LIMITS.maxCost) {
      const result = await execute({
        schema,
        document,
        contextValue: createRequestContext({
          store: usageFixture().store,
          clock: systemClock,
          log: silentLogger,
        }),
      });
      expect(result.errors).toBeUndefined();
    }
    return walks();
  }

  it.each(FRAGMENT_BOMBS)('$shape: walks grow with the document, not its expansion', async ({ document }) => {
    // Linear walks double from 10 to 20 levels; expanding spreads would multiply them by ~1,000
    // (~120 for the ladder). graphql-js's validation compares fragments pairwise (quadratic, 4×).
    const [ten, twenty] = [await walksOf(document(10)), await walksOf(document(20))];
    expect(twenty).toBeLessThanOrEqual(4 * ten);
  });

  it.each(FRAGMENT_BOMBS)(
    '$shape: answered with data or a coded refusal, never a 5xx',
    async ({ document }) => {
      for (const levels of [19, 40]) {
        const res = await fetch(server.url, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ query: document(levels) }),
        });
        expect(res.status).toBeLessThan(500);
        const body = (await res.json()) as {
          data?: unknown;
          errors?: Array<{ extensions?: { code?: string } }>;
        };
        if (body.errors) expect(body.errors[0].extensions?.code).toBe('QUERY_TOO_COMPLEX');
        else expect(body.data).toBeDefined();
      }
      await expectStillServing(server);
    },
  );
});
