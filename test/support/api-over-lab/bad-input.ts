import { DAY_MS, HOUR_MS } from '../../../src/domain/time';
import { iso, OK_FROM, OUTAGE_FROM, OUTAGE_TO, post, query } from './lab';

/** Arguments the API refuses, each named in a BAD_USER_INPUT error. */
export function describeBadInput(): void {
  describe('bad input: BAD_USER_INPUT naming the argument', () => {
    async function expectBadInput(text: string, variables: Record<string, unknown>, argument: string) {
      const answer = await post<unknown>(text, variables);
      expect(answer.errors).toHaveLength(1);
      const [error] = answer.errors!;
      expect(error.extensions).toMatchObject({ code: 'BAD_USER_INPUT', argument });
      expect(error.message).toContain(`"${argument}"`);
      expect(answer.data ?? null).toBeNull();
    }
    const SINGLE = `query($from: DateTime!, $to: DateTime!, $granularity: Granularity!) {
      usageSeries(level: PROJECT, key: "IDAaaS", from: $from, to: $to, granularity: $granularity) { total { busyKwh } }
    }`;
    const MANY = `query($from: DateTime!, $to: DateTime!, $granularity: Granularity!) {
      usageSeriesMany(level: PROJECT, keys: ["IDAaaS", "ISIS-Muon"], from: $from, to: $to, granularity: $granularity) { key }
    }`;

    it.each([
      [
        'from equal to to',
        { from: '2025-09-21T00:00:00Z', to: '2025-09-21T00:00:00Z', granularity: 'DAY' },
        'from',
      ],
      [
        'from after to',
        { from: '2025-09-22T00:00:00Z', to: '2025-09-21T00:00:00Z', granularity: 'HOUR' },
        'from',
      ],
      [
        'an HOUR range of 367 days',
        { from: '2024-09-21T00:00:00Z', to: '2025-09-23T00:00:00Z', granularity: 'HOUR' },
        'to',
      ],
      [
        'a DAY range over 5 years',
        { from: '2020-09-21T00:00:00Z', to: '2025-09-22T00:00:00Z', granularity: 'DAY' },
        'to',
      ],
      ['a malformed from', { from: '21/09/2025', to: '2025-09-22T00:00:00Z', granularity: 'DAY' }, 'from'],
      [
        'a from that names no day',
        { from: '2025-02-30T00:00:00Z', to: '2025-09-22T00:00:00Z', granularity: 'DAY' },
        'from',
      ],
      ['a malformed to', { from: '2025-09-21T00:00:00Z', to: 'tomorrow', granularity: 'HOUR' }, 'to'],
    ])('%s', async (_what, variables, argument) => {
      await expectBadInput(SINGLE, variables, argument);
      await expectBadInput(MANY, variables, argument);
    });

    it('a malformed date written in the query itself', async () => {
      await expectBadInput(
        `{ usageSeries(level: PROJECT, key: "IDAaaS", from: "yesterday", to: "2025-09-22", granularity: DAY) { key } }`,
        {},
        'from',
      );
    });

    it('an HOUR range of exactly 366 days is allowed, and answers the lab’s hours', async () => {
      const to = OUTAGE_TO;
      const from = to - 366 * DAY_MS;
      const data = await query<{ usageSeries: { buckets: Array<{ status: string }> } }>(
        `query($from: DateTime!, $to: DateTime!) {
          usageSeries(level: PROJECT, key: "IDAaaS", from: $from, to: $to, granularity: HOUR) { buckets { status } }
        }`,
        { from: iso(from), to: iso(to) },
      );
      const statuses = data.usageSeries.buckets.map((b) => b.status);
      expect(statuses).toHaveLength(366 * 24);
      expect(statuses.filter((s) => s === 'OK')).toHaveLength((OUTAGE_FROM - OK_FROM) / HOUR_MS);
      expect(statuses.filter((s) => s === 'FAILED')).toHaveLength((to - OUTAGE_FROM) / HOUR_MS);
    });

    it('machineMetrics days outside 1…3660', async () => {
      for (const days of [0, 3661]) {
        await expectBadInput(
          `query($days: Int) { machineMetrics(days: $days) { machineName } }`,
          { days },
          'days',
        );
      }
    });
  });
}
