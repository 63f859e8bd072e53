import { graphql } from 'graphql';
import { fixedClock } from '../../../src/domain/clock';
import { exportSeries } from '../../../src/export';
import { silentLogger } from '../../../src/log';
import { buildAppSchema, createRequestContext } from '../../../src/app-schema';
import { FIGURE_SIGNIFICANT_DIGITS, presented } from '../../../src/services/precision';
import { dayEntry, memoryUsageStore, okHour, usage } from '../../support/usage-store';

// Two hours whose sums carry float noise: 0.1 + 0.2 is 0.30000000000000004 as a double, and
// 979886.1 + 0.2 CPU-seconds is 979886.2999999999.
const noisy = () =>
  memoryUsageStore({
    entries: [
      dayEntry('PROJECT', 'P', '2025-09-21', {
        '00:00': usage({ M: { busyCpuSeconds: 979886.1, busyKwh: 0.1, busyGco2eq: 0.1 } }),
        '01:00': usage({ M: { busyCpuSeconds: 0.2, busyKwh: 0.2, busyGco2eq: 0.2 } }),
      }),
      dayEntry('MACHINE', 'M', '2025-09-21', { '00:00': usage({ M: { busyKwh: 0.1 } }) }),
    ],
    ledger: { '2025-09-21T00:00:00Z': okHour({ M: 1 }), '2025-09-21T01:00:00Z': okHour({ M: 1 }) },
  });

describe('figures are answered to a stated precision, the store keeping full precision', () => {
  it('rounds to 12 significant digits, whatever the magnitude', () => {
    expect(FIGURE_SIGNIFICANT_DIGITS).toBe(12);
    expect(0.1 + 0.2).not.toBe(0.3);
    expect(presented(0.1 + 0.2)).toBe(0.3);
    expect(979886.1 + 0.2).toBe(979886.2999999999);
    expect(presented(979886.1 + 0.2)).toBe(979886.3);
    expect(presented(979886.9530000001)).toBe(979886.953);
    expect(presented(1.23456789012345e-7)).toBe(1.23456789012e-7);
    expect(presented(0)).toBe(0);
    expect(presented(123456789012345)).toBe(123456789012000);
  });

  it('the API and both export formats answer the sums without float noise', async () => {
    const store = noisy();
    const schema = await buildAppSchema();
    const result = await graphql({
      schema,
      source: `{ usageSeries(level: PROJECT, key: "P", from: "2025-09-21", to: "2025-09-22", granularity: DAY) {
        total { busyCpuSeconds busyKwh busyGco2eq totalKwh } buckets { byMachine { usage { busyKwh } } }
      } }`,
      contextValue: createRequestContext({
        store,
        clock: fixedClock(Date.parse('2025-09-23T00:00:00Z')),
        log: silentLogger,
      }),
    });
    expect(result.errors).toBeUndefined();
    expect(JSON.parse(JSON.stringify(result.data))).toEqual({
      usageSeries: {
        total: { busyCpuSeconds: 979886.3, busyKwh: 0.3, busyGco2eq: 0.3, totalKwh: 0.3 },
        buckets: [{ byMachine: [{ usage: { busyKwh: 0.3 } }] }],
      },
    });
    const args = {
      level: 'PROJECT' as const,
      key: 'P',
      from: '2025-09-21',
      to: '2025-09-22',
      granularity: 'DAY' as const,
    };
    const csv = await exportSeries({ schema, store, log: silentLogger }, args, 'csv');
    expect(csv).toContain(',979886.3,');
    expect(csv).not.toMatch(/\d{13,}/);
    const json = await exportSeries({ schema, store, log: silentLogger }, args, 'json');
    expect(json).toContain('979886.3');
    expect(json).not.toContain('979886.2999999999');
    expect(json).not.toContain('0.30000000000000004');
    // What the store holds is untouched: its hours as written.
    const [day] = await store.readDays('PROJECT', '2025-09-21', ['P']);
    expect(day!.hours['00:00']).toMatchObject({ all: { busyCpuSeconds: 979886.1, busyKwh: 0.1 } });
    expect(day!.totals.all.busyKwh).toBe(0.1 + 0.2);
  });
});

describe('presented without formatting', () => {
  const byString = (value: number) =>
    Number.isFinite(value) && value !== 0 ? Number(value.toPrecision(FIGURE_SIGNIFICANT_DIGITS)) : value;
  const bits = new Float64Array(1);
  const words = new Uint32Array(bits.buffer);
  let seed = 20251203;
  const next = () => (seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0);

  it('gives the very double that formatting to 12 digits and parsing gives', () => {
    const values: number[] = [];
    for (let i = 0; i < 100_000; i++) {
      [words[0], words[1]] = [next(), next()];
      values.push(bits[0]);
      values.push(
        ((next() / 2 ** 32 - 0.5) * 10) ** Math.floor(next() / 2 ** 27) * 10 ** ((next() % 40) - 20),
      );
      // Ties at the 12th digit: 123456789012.5 × a power of ten.
      values.push(((next() % 900_000) * 1_000_000 + 100_000_000_000 + 0.5) * 10 ** ((next() % 30) - 20));
    }
    for (let e = -324; e <= 308; e++) {
      for (const digits of [1, 9.99999999999, 9.999999999995, 1.0000000000005]) {
        const value = digits * 10 ** e;
        values.push(value, -value, value * (1 + Number.EPSILON), value * (1 - Number.EPSILON));
      }
    }
    values.push(Number.MIN_VALUE, Number.MAX_VALUE, -0, NaN, Infinity, -Infinity);
    const differing = values.filter((value) => !Object.is(presented(value), byString(value)));
    expect(differing).toEqual([]);
  });
});
