import { LEVELS, type Level } from '../../../src/domain/levels';
import { DAY_MS, HOUR_MS, periodStart } from '../../../src/domain/time';
import {
  addUp,
  busiestKey,
  dayOfSeptember,
  expectBucketUsage,
  expectedSum,
  expectFigures,
  expectResources,
  keysOf,
  NO_USAGE,
} from './expect';
import {
  at,
  DAY_TOLERANCE,
  HOUR_TOLERANCE,
  iso,
  LAB_DAYS,
  LAB_FROM,
  LAB_TO,
  OK_FROM,
  OUTAGE_FROM,
  OUTAGE_TO,
  query,
  series,
  SERIES,
  type ApiSeries,
} from './lab';

/** usageKeys, usageSeries and usageSeriesMany against the generator: lab days, September, the outage. */
export function describeUsageSeries(): void {
  it.each(LEVELS)('usageKeys(%s) lists every key the generator expects, sorted', async (level) => {
    const data = await query<{ usageKeys: string[] }>(
      `query($level: UsageLevel!) { usageKeys(level: $level) }`,
      {
        level,
      },
    );
    expect(keysOf(level).length).toBeGreaterThan(0);
    expect(data.usageKeys).toEqual(keysOf(level));
  });

  it.each(LEVELS)(
    'DAY series of every %s key over the lab days: OK, usage and byMachine within 1 %% of the generator',
    async (level) => {
      for (const key of keysOf(level)) {
        const answer = await series(level, key, 'DAY', LAB_FROM, LAB_TO);
        expect(answer).toMatchObject({
          level,
          key,
          granularity: 'DAY',
          from: iso(LAB_FROM),
          to: iso(LAB_TO),
        });
        expect(answer.buckets.map((b) => [b.start, b.end, b.status, b.failedHours])).toEqual(
          LAB_DAYS.map((day) => [iso(periodStart(day)), iso(periodStart(day) + DAY_MS), 'OK', 0]),
        );
        for (const bucket of answer.buckets) {
          const start = Date.parse(bucket.start);
          expectBucketUsage(bucket, level, key, start, start + DAY_MS, DAY_TOLERANCE);
        }
        expectFigures(
          answer.total,
          expectedSum(level, key, LAB_FROM, LAB_TO).all,
          DAY_TOLERANCE,
          `${level} ${key} total`,
        );
      }
    },
  );

  it.each(LEVELS)(
    'HOUR series of the busiest %s key: every hour OK and within 2 %% of the generator',
    async (level) => {
      const key = busiestKey(level);
      const answer = await series(level, key, 'HOUR', LAB_FROM, LAB_TO);
      expect(answer.buckets).toHaveLength(48);
      let hoursWithUsage = 0;
      answer.buckets.forEach((bucket, i) => {
        const start = LAB_FROM + i * HOUR_MS;
        expect([bucket.start, bucket.end, bucket.status, bucket.failedHours]).toEqual([
          iso(start),
          iso(start + HOUR_MS),
          'OK',
          0,
        ]);
        expectBucketUsage(bucket, level, key, start, start + HOUR_MS, HOUR_TOLERANCE);
        if (bucket.byMachine.length > 0) hoursWithUsage++;
      });
      expect(hoursWithUsage).toBeGreaterThan(24);
    },
  );

  it.each(LEVELS)(
    'September 2025 of every %s key: DAY statuses from the ledger, MONTH and YEAR equal the DAY sums and the generator',
    async (level) => {
      const september = Date.UTC(2025, 8, 1);
      const october = Date.UTC(2025, 9, 1);
      const okSum = (key: string) => expectedSum(level, key, OK_FROM, OUTAGE_FROM).all;
      for (const key of keysOf(level)) {
        const days = await series(level, key, 'DAY', september, october);
        expect(days.buckets).toHaveLength(30);
        days.buckets.forEach((bucket, i) => {
          const { status, failedHours, okTo } = dayOfSeptember(i + 1);
          const start = september + i * DAY_MS;
          expect({
            key,
            start: bucket.start,
            status: bucket.status,
            failedHours: bucket.failedHours,
          }).toEqual({
            key,
            start: iso(start),
            status,
            failedHours,
          });
          if (status === 'OK' || status === 'PARTIAL') {
            // A PARTIAL day (the outage began at 03:00) holds the sum over its ok hours only.
            expectBucketUsage(bucket, level, key, start, okTo, DAY_TOLERANCE);
          } else {
            expect({ start: bucket.start, usage: bucket.usage, byMachine: bucket.byMachine }).toEqual({
              start: bucket.start,
              usage: null,
              byMachine: [],
            });
          }
        });
        const daySum = addUp(days.buckets.map((b) => b.usage));
        expectFigures(days.total, daySum, 1e-9, `${level} ${key} DAY total`);
        expectFigures(daySum, okSum(key), DAY_TOLERANCE, `${level} ${key} DAY sum`);
        expectResources(days.resourcesTotal, okSum(key), DAY_TOLERANCE, `${level} ${key} DAY resourcesTotal`);

        for (const [granularity, from, to] of [
          ['MONTH', september, october],
          ['YEAR', Date.UTC(2025, 0, 1), Date.UTC(2026, 0, 1)],
        ] as const) {
          const rolled = await series(level, key, granularity, from, to);
          expect(rolled.buckets).toHaveLength(1);
          const [bucket] = rolled.buckets;
          expect([bucket.start, bucket.end, bucket.status, bucket.failedHours]).toEqual([
            iso(from),
            iso(to),
            'PARTIAL',
            (OUTAGE_TO - OUTAGE_FROM) / HOUR_MS,
          ]);
          expectFigures(bucket.usage, daySum, 1e-9, `${level} ${key} ${granularity} vs the DAY sum`);
          expectFigures(rolled.total, daySum, 1e-9, `${level} ${key} ${granularity} total vs the DAY sum`);
          // Resources roll up as the CPU figures do: the month and the year hold what the days do.
          expectResources(bucket.resources, okSum(key), DAY_TOLERANCE, `${level} ${key} ${granularity}`);
          expectResources(
            rolled.resourcesTotal,
            okSum(key),
            DAY_TOLERANCE,
            `${level} ${key} ${granularity} resourcesTotal`,
          );
          expect(bucket.byMachine.map((m) => m.machineKey).sort()).toEqual(
            Object.keys(expectedSum(level, key, OK_FROM, OUTAGE_FROM).byMachine).sort(),
          );
          for (const { machineName, usage } of bucket.byMachine) {
            const dayMachineSum = addUp(
              days.buckets.map((b) => b.byMachine.find((m) => m.machineName === machineName)?.usage ?? null),
            );
            expectFigures(usage, dayMachineSum, 1e-9, `${level} ${key} ${granularity} ${machineName}`);
          }
        }
      }
    },
  );

  it('the outage: hours and a whole day in it are FAILED with null usage; the day it began is PARTIAL, its ok hours summed', async () => {
    const level: Level = 'PROJECT';
    const key = busiestKey(level);
    const hours = await series(level, key, 'HOUR', at('2025-09-23T00:00:00Z'), at('2025-09-24T00:00:00Z'));
    expect(hours.buckets.map((b) => [b.status, b.failedHours])).toEqual([
      ...Array.from({ length: 3 }, () => ['OK', 0]),
      ...Array.from({ length: 21 }, () => ['FAILED', 1]),
    ]);
    for (const bucket of hours.buckets.slice(3)) {
      expect([bucket.usage, bucket.byMachine]).toEqual([null, []]);
    }
    // 00:00 and 01:00 hold the fleet's last samples; 02:00 is ok and empty.
    expectBucketUsage(
      hours.buckets[0],
      level,
      key,
      at('2025-09-23T00:00:00Z'),
      at('2025-09-23T01:00:00Z'),
      HOUR_TOLERANCE,
    );
    expect(hours.buckets[0].usage!.busyKwh).toBeGreaterThan(0);
    expectBucketUsage(hours.buckets[2], level, key, at('2025-09-23T02:00:00Z'), OUTAGE_FROM, HOUR_TOLERANCE);
    expect(hours.buckets[2].usage).toEqual(NO_USAGE);

    const days = await series(level, key, 'DAY', at('2025-09-23T00:00:00Z'), OUTAGE_TO);
    const [partial, failed] = days.buckets;
    expect([partial.status, partial.failedHours, failed.status, failed.failedHours]).toEqual([
      'PARTIAL',
      21,
      'FAILED',
      24,
    ]);
    expectFigures(
      partial.usage,
      addUp(hours.buckets.map((b) => b.usage)),
      1e-9,
      'the PARTIAL day vs its hours',
    );
    expectBucketUsage(partial, level, key, at('2025-09-23T00:00:00Z'), OUTAGE_FROM, DAY_TOLERANCE);
    expect([failed.usage, failed.byMachine]).toEqual([null, []]);
    expectFigures(days.total, partial.usage!, 1e-9, 'the total over the outage');

    // A range wholly inside the outage: the clipped bucket counts its 6 hours, all failed.
    const inside = await series(level, key, 'DAY', at('2025-09-24T06:00:00Z'), at('2025-09-24T12:00:00Z'));
    expect(inside.buckets.map((b) => [b.status, b.failedHours, b.usage])).toEqual([['FAILED', 6, null]]);
    expect(inside.total).toEqual(NO_USAGE);
  });

  it('a range never ingested is MISSING, with null usage and a zero total, at every granularity', async () => {
    const key = busiestKey('PROJECT');
    const noFigures = NO_USAGE;
    for (const [granularity, from, to, buckets] of [
      ['YEAR', at('2024-01-01T00:00:00Z'), at('2025-01-01T00:00:00Z'), 1],
      ['MONTH', at('2025-08-01T00:00:00Z'), at('2025-09-01T00:00:00Z'), 1],
      ['DAY', at('2025-09-25T00:00:00Z'), at('2025-09-28T00:00:00Z'), 3],
      ['HOUR', at('2025-09-19T20:00:00Z'), at('2025-09-20T00:00:00Z'), 4],
    ] as const) {
      const answer = await series('PROJECT', key, granularity, from, to);
      expect({ granularity, buckets: answer.buckets.length }).toEqual({ granularity, buckets });
      for (const bucket of answer.buckets) {
        expect({
          granularity,
          status: bucket.status,
          failedHours: bucket.failedHours,
          usage: bucket.usage,
        }).toEqual({
          granularity,
          status: 'MISSING',
          failedHours: 0,
          usage: null,
        });
        expect(bucket.byMachine).toEqual([]);
      }
      expect(answer.total).toEqual(noFigures);
    }
  });

  it('an unknown key is MISSING over ingested hours, not an error', async () => {
    for (const level of LEVELS) {
      const answer = await series(level, 'no-such-key', 'DAY', LAB_FROM, LAB_TO);
      expect(answer.buckets.map((b) => [b.status, b.failedHours, b.usage, b.byMachine])).toEqual([
        ['MISSING', 0, null, []],
        ['MISSING', 0, null, []],
      ]);
      expect(answer.total).toEqual(NO_USAGE);
    }
  });

  it.each(LEVELS)(
    'usageSeriesMany(%s) answers one series per key in the order given, as usageSeries does',
    async (level) => {
      const keys = [...keysOf(level).reverse(), 'no-such-key', keysOf(level)[0]];
      for (const [granularity, from, to] of [
        ['DAY', at('2025-09-20T12:00:00Z'), OUTAGE_TO],
        ['HOUR', at('2025-09-22T20:00:00Z'), at('2025-09-23T06:00:00Z')],
      ] as const) {
        const many = await query<{ usageSeriesMany: ApiSeries[] }>(
          `query($level: UsageLevel!, $keys: [String!]!, $from: DateTime!, $to: DateTime!, $granularity: Granularity!) {
          usageSeriesMany(level: $level, keys: $keys, from: $from, to: $to, granularity: $granularity) { ${SERIES} }
        }`,
          { level, keys, from: iso(from), to: iso(to), granularity },
        );
        expect(many.usageSeriesMany.map((s) => s.key)).toEqual(keys);
        for (const [i, key] of keys.entries()) {
          expect(many.usageSeriesMany[i]).toEqual(await series(level, key, granularity, from, to));
        }
        // Not all alike: the answers differ per key, so order matters.
        expect(new Set(many.usageSeriesMany.map((s) => s.total.totalKwh)).size).toBeGreaterThan(1);
      }
    },
  );
}
