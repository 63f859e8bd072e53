import { FIGURE_FIELDS } from '../../../../src/domain/figures';
import {
  decodeBreakdown,
  encodeBreakdown,
  sameStored,
  UndecodableRowError,
} from '../../../../src/store/postgres/codec';
import { redactUrl } from '../../../../src/store/postgres';
import { figures } from '../../../support/describe-store';

describe('postgres codec', () => {
  it('reads back a breakdown bit for bit, machines in their order', () => {
    const breakdown = {
      all: { ...figures(3), busyKwh: 0.1 + 0.2, idleGco2eq: -0 },
      byMachine: { LARGE: figures(2), SMALL: { ...figures(1), busyCpuSeconds: 1e-300 } },
    };
    const stored = encodeBreakdown(breakdown);
    expect(stored.machines).toEqual(['LARGE', 'SMALL']);
    expect(stored.figures.length).toBe(8 * FIGURE_FIELDS.length * 3);
    const back = decodeBreakdown(stored);
    expect(back).toEqual(breakdown);
    expect(Object.is(back.all.idleGco2eq, -0)).toBe(true);
  });

  it('reads a figure missing from an older, narrower row as 0', () => {
    const narrow = Buffer.alloc(8 * 2 * 2);
    narrow.writeDoubleLE(5, 0);
    narrow.writeDoubleLE(7, 16);
    const back = decodeBreakdown({ machines: ['X'], figures: narrow });
    expect(back.all.busyCpuSeconds).toBe(5);
    expect(back.byMachine.X.busyCpuSeconds).toBe(7);
    expect(back.all.idleGco2eq).toBe(0);
  });

  it('tells a breakdown stored as the same bytes from one that is not, without encoding', () => {
    const a = { all: figures(3), byMachine: { LARGE: figures(2), SMALL: figures(1) } };
    const b = { all: figures(3), byMachine: { LARGE: figures(2), SMALL: figures(1) } };
    expect(sameStored(a, b)).toBe(true);
    expect(sameStored(a, { ...b, byMachine: { SMALL: figures(1), LARGE: figures(2) } })).toBe(false);
    expect(sameStored(a, { ...b, byMachine: { LARGE: figures(2) } })).toBe(false);
    expect(sameStored(a, { ...b, all: { ...figures(3), busyKwh: figures(3).busyKwh + 1e-12 } })).toBe(false);
    const zero = { all: figures(0), byMachine: {} };
    expect(sameStored(zero, { all: { ...figures(0), idleGco2eq: -0 }, byMachine: {} })).toBe(false);
  });

  it('refuses figures whose length fits no stride', () => {
    expect(() => decodeBreakdown({ machines: ['X'], figures: Buffer.alloc(20) })).toThrow(
      UndecodableRowError,
    );
    expect(() => decodeBreakdown({ machines: [], figures: Buffer.alloc(0) })).toThrow(UndecodableRowError);
  });

  it('never shows a password in a URL it logs', () => {
    expect(redactUrl('postgres://app:s3cret@db.example:5432/ledger')).toBe(
      'postgres://app:***@db.example:5432/ledger',
    );
    expect(redactUrl('postgres://app@db/ledger')).toBe('postgres://app@db/ledger');
    expect(redactUrl('postgres://app:s3cret@[broken')).not.toContain('s3cret');
  });
});
