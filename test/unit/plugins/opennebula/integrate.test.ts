import { integrateVm, runningIntervals } from '../../../../src/plugins/opennebula/integrate';

const T0 = Date.parse('2025-03-10T00:00:00Z') / 1000;
const reg = (seq: number, rstime: number, retime: number, hostname = 'a') => ({
  vmId: 1,
  seq,
  hostname,
  rstime: T0 + rstime,
  retime: retime === 0 ? 0 : T0 + retime,
  reason: 0,
});

describe('integrateVm', () => {
  it('holds each sample until the next one, splitting exactly at hour boundaries', () => {
    const hours = integrateVm(
      {
        vcpu: 2,
        registers: [reg(0, 1800, 8100)],
        samples: [
          { timestamp: T0 + 2400, cpu: 50 },
          { timestamp: T0 + 4200, cpu: 150 },
        ],
      },
      T0 * 1000,
      (T0 + 4 * 3600) * 1000,
      Date.now(),
    );
    expect(hours.map((h) => [h.runningSeconds, h.busyCpuSeconds, h.idleCpuSeconds])).toEqual([
      [1800, 600, 3000],
      [3600, 4800, 2400],
      [900, 1350, 450],
    ]);
  });

  it('ends a held sample when the VM stops, holds nothing after a resume until the next sample, and names the longest host', () => {
    const hours = integrateVm(
      {
        vcpu: 1,
        registers: [reg(0, 0, 1200, 'a'), reg(1, 2400, 0, 'b')],
        samples: [
          { timestamp: T0 + 600, cpu: 100 },
          { timestamp: T0 + 3000, cpu: 40 },
        ],
      },
      T0 * 1000,
      (T0 + 3600) * 1000,
      (T0 + 3600) * 1000,
    );
    // Running 00:00–00:20 and 00:40–01:00; busy 600 s at 100 %, then 600 s at 40 %.
    expect(hours).toEqual([
      { hour: T0 * 1000, runningSeconds: 2400, busyCpuSeconds: 840, idleCpuSeconds: 1560, host: 'a' },
    ]);
  });

  it('runs a VM during the union of overlapping registers, an open one until now', () => {
    expect(runningIntervals([reg(0, 100, 500), reg(1, 400, 0)], (T0 + 900) * 1000)).toEqual([
      [(T0 + 100) * 1000, (T0 + 900) * 1000],
    ]);
  });
});
