import {
  FIGURE_FIELDS,
  packBreakdown,
  unpackBreakdown,
  zeroFigures,
  type Breakdown,
} from '../../../src/domain/figures';

describe('packBreakdown', () => {
  it('gives back the very figures, machine by machine, in the same order', () => {
    const breakdown: Breakdown = {
      all: {
        ...zeroFigures(),
        memoryByteHours: 2 ** 40 + 0.5,
        busyCpuSeconds: 0.1 + 0.2,
        idleCpuSeconds: 3,
        busyKwh: 1e-9,
        idleKwh: 5,
        busyGco2eq: 6,
        idleGco2eq: 7,
      },
      byMachine: {
        SMALL: {
          ...zeroFigures(),
          upHours: 0.5,
          busyCpuSeconds: 0.1,
          idleCpuSeconds: 1,
          busyKwh: 2e-10,
          idleKwh: 2,
          busyGco2eq: 4,
          idleGco2eq: 5,
        },
        LARGE: {
          ...zeroFigures(),
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
    expect(packed.figures).toHaveLength(3 * FIGURE_FIELDS.length);
    const back = unpackBreakdown(packed);
    expect(back).toEqual(breakdown);
    expect(Object.keys(back.byMachine)).toEqual(['SMALL', 'LARGE']);
    expect(back.all.busyCpuSeconds).toBe(0.30000000000000004);
  });

  it('packs a breakdown with no machine to its figures, in the catalogue order', () => {
    const all = zeroFigures();
    FIGURE_FIELDS.forEach((field, i) => (all[field] = i + 1));
    const none: Breakdown = { all, byMachine: {} };
    expect(Array.from(packBreakdown(none).figures)).toEqual(FIGURE_FIELDS.map((_, i) => i + 1));
    expect(unpackBreakdown(packBreakdown(none))).toEqual(none);
  });
});
