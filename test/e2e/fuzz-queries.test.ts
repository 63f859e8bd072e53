import { createHash } from 'node:crypto';
import { startTestServer, type TestServer } from '../support/http';
import { expectNoProblems, expectStillServing, fuzz } from '../support/graphql-fuzz';

/**
 * Random queries and variables thrown at the real server: a thousand and more, from a seeded
 * generator that knows the schema (so many get far enough to run) and breaks things on purpose
 * (wrong types, unknown fields, huge or deep values, truncated documents). None may answer 5xx,
 * every error must carry a code, and the server must keep serving. Set FUZZ_SEED to replay a run.
 */
const SEED = Number(process.env.FUZZ_SEED ?? 4242);
const CASES = Number(process.env.FUZZ_CASES ?? 1200);

describe(`random queries and variables (seed ${SEED})`, () => {
  let server: TestServer;

  beforeAll(async () => {
    server = await startTestServer({ executionTimeoutMs: 5000 });
  });
  afterAll(async () => {
    await server.close();
  });

  it(`answers ${CASES} of them without a 5xx, each error with a code, and keeps serving`, async () => {
    const report = await fuzz(server, SEED, CASES);
    expectNoProblems(server, report);
    // The generator reaches execution often enough to mean something, and errors of many kinds.
    expect(report.withData).toBeGreaterThan(CASES / 10);
    expect(report.codes.size).toBeGreaterThanOrEqual(4);
    await expectStillServing(server);
  });
});

describe(`random queries with random credentials (seed ${SEED + 1})`, () => {
  const token = (name: string) => `fuzz-${name}-token`;
  const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');
  let server: TestServer;

  beforeAll(async () => {
    server = await startTestServer({
      executionTimeoutMs: 5000,
      auth: {
        anonymous: false,
        tokens: [
          { name: 'admin', sha256: sha256(token('admin')), role: 'admin' },
          { name: 'isis', sha256: sha256(token('isis')), projects: ['ISIS'] },
          { name: 'alice', sha256: sha256(token('alice')), users: ['alice'] },
        ],
      },
    });
  });
  afterAll(async () => {
    await server.close();
  });

  it(`answers ${CASES / 2} of them, refused or not, with a code and never a 5xx`, async () => {
    const credentials = [
      undefined,
      'Bearer ',
      'Bearer nope',
      'Basic YWxpY2U6c2VjcmV0',
      `Bearer ${token('admin')}`,
      `Bearer ${token('isis')}`,
      `Bearer ${token('alice')}`,
      `bearer ${token('isis')}`,
    ];
    const report = await fuzz(
      server,
      SEED + 1,
      CASES / 2,
      (random) => credentials[Math.floor(random() * credentials.length)],
    );
    expectNoProblems(server, report);
    expect(report.codes.get('UNAUTHENTICATED')).toBeGreaterThan(0);
    expect(report.codes.get('FORBIDDEN')).toBeGreaterThan(0);
    expect(report.withData).toBeGreaterThan(0);
    await expectStillServing(server, `Bearer ${token('admin')}`);
  });
});
