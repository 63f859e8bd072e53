import { packBreakdown, unpackBreakdown, type Breakdown } from '../../../src/domain/figures';

describe('packBreakdown', () => {
  it('gives back the very figures, machine by machine, in the same order', () => {
    const breakdown: Breakdown = {
      all: {
        busyCpuSeconds: 0.1 + 0.2,
        idleCpuSeconds: 3,
        busyKwh: 1e-9,
        idleKwh: 5,
        busyGco2eq: 6,
        idleGco2eq: 7,
      },
      byMachine: {
        SMALL: {
          busyCpuSeconds: 0.1,
          idleCpuSeconds: 1,
          busyKwh: 2e-10,
          idleKwh: 2,
          busyGco2eq: 4,
          idleGco2eq: 5,
        },
        LARGE: {
          busyCpuSeconds: 0.2,
          idleCpuSeconds: 2,
          busyKwh: 8e-10,
          idleKwh: 3,
          busyGco2eq: 2,
          idleGco2eq: 2,
        },
      },
    };
    const packed = packBreakdown(breakdown);
    expect(packed.figures).toHaveLength(18);
    const back = unpackBreakdown(packed);
    expect(back).toEqual(breakdown);
    expect(Object.keys(back.byMachine)).toEqual(['SMALL', 'LARGE']);
    expect(back.all.busyCpuSeconds).toBe(0.30000000000000004);
  });

  it('packs a breakdown with no machine to its six figures', () => {
    const none: Breakdown = {
      all: { busyCpuSeconds: 1, idleCpuSeconds: 2, busyKwh: 3, idleKwh: 4, busyGco2eq: 5, idleGco2eq: 6 },
      byMachine: {},
    };
    expect(Array.from(packBreakdown(none).figures)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(unpackBreakdown(packBreakdown(none))).toEqual(none);
  });
});
