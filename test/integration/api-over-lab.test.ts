import { describeBadInput } from '../support/api-over-lab/bad-input';
import {
  answers,
  database,
  ingestAndServe,
  service,
  startApiLab,
  stopApiLab,
  STORE_KINDS,
} from '../support/api-over-lab/lab';
import { describeMachineMetrics } from '../support/api-over-lab/machine-metrics';
import { describeUsageSeries } from '../support/api-over-lab/usage-series';

/**
 * The GraphQL API over HTTP, over a store (JSON, then PostgreSQL) that `carbonledger ingest` filled from the real
 * Prometheus lab (test/support/lab): every figure is compared with the generator's own reading of
 * the fleet (expected.ts), never with the store's files.
 *
 * The store, for the default fleet (data 2025-09-20T22:00Z to 2025-09-23T02:00Z):
 * - ingested with Prometheus up: [2025-09-20T00:00Z, 2025-09-23T03:00Z), every hour ok
 *   (the hours before 22:00 on the 20th and 02:00 on the 23rd are ok and hold no usage);
 * - then Prometheus stopped, and [2025-09-23T03:00Z, 2025-09-25T00:00Z) ingested: every hour failed;
 * - nothing else: 2025-09-19 and before, 2025-09-25 and after are missing.
 */

beforeAll(startApiLab);

afterAll(stopApiLab);

describe.each(STORE_KINDS)('over the %s store', (kind) => {
  beforeAll(() => ingestAndServe(kind));

  afterAll(async () => {
    await service?.close();
    await database?.drop();
  });

  describe('the GraphQL API over a store the Prometheus lab filled', () => {
    describeUsageSeries();
    describeMachineMetrics();
    describeBadInput();
  });
});

describe('the two stores', () => {
  it('answered every request the same, figure for figure, status for status, error for error', () => {
    expect(answers.json.size).toBeGreaterThan(50);
    expect([...answers.postgres.keys()]).toEqual([...answers.json.keys()]);
    for (const [request, answer] of answers.json) {
      expect({ request, answer: answers.postgres.get(request) }).toEqual({ request, answer });
    }
  });
});
