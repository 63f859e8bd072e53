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
          { timestamp: T0 + 2400, cpu: 50, memory: 1024 },
          { timestamp: T0 + 4200, cpu: 150, memory: 2048 },
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
    // What the samples measured: nothing before the first one, at 00:40.
    expect(hours.map((h) => h.sampledHours)).toEqual([1200 / 3600, 1, 900 / 3600]);
  });

  it('ends a held sample when the VM stops, holds nothing after a resume until the next sample, and names the longest host', () => {
    const hours = integrateVm(
      {
        vcpu: 1,
        registers: [reg(0, 0, 1200, 'a'), reg(1, 2400, 0, 'b')],
        samples: [
          { timestamp: T0 + 600, cpu: 100, memory: 0 },
          { timestamp: T0 + 3000, cpu: 40, memory: 0 },
        ],
      },
      T0 * 1000,
      (T0 + 3600) * 1000,
      (T0 + 3600) * 1000,
    );
    // Running 00:00–00:20 and 00:40–01:00; busy 600 s at 100 %, then 600 s at 40 %.
    expect(hours).toEqual([
      expect.objectContaining({
        hour: T0 * 1000,
        runningSeconds: 2400,
        busyCpuSeconds: 840,
        idleCpuSeconds: 1560,
        upHours: 2400 / 3600,
        // Held 00:10–00:20 and 00:50–01:00: the resume is unmeasured until its first sample.
        sampledHours: 1200 / 3600,
        host: 'a',
      }),
    ]);
  });

  it('holds memory (KiB) as CPU is held, and spreads each delta’s traffic evenly over its interval, split at hours', () => {
    const MiB = 1024;
    const hours = integrateVm(
      {
        vcpu: 1,
        registers: [reg(0, 1800, 0, 'a')],
        samples: [
          { timestamp: T0 + 1800, cpu: 10, memory: 512 * MiB },
          { timestamp: T0 + 5400, cpu: 10, memory: 1024 * MiB },
        ],
        deltas: [
          // 30 minutes in hour 0, 60 in hour 1: a third and two thirds.
          { ptimestamp: T0 + 1800, timestamp: T0 + 7200, netRx: 3000, netTx: 300 },
          // No interval: counted whole in the hour of its timestamp.
          { ptimestamp: T0 + 7300, timestamp: T0 + 7300, netRx: 7, netTx: 0 },
        ],
      },
      T0 * 1000,
      (T0 + 3 * 3600) * 1000,
      (T0 + 3 * 3600) * 1000,
    );
    const bytes = (mib: number) => mib * 1024 * 1024;
    expect(
      hours.map((h) => [h.upHours, h.memoryByteHours, h.networkReceiveBytes, h.networkTransmitBytes]),
    ).toEqual([
      [0.5, bytes(512) * 0.5, 1000, 100],
      [1, bytes(512) * 0.5 + bytes(1024) * 0.5, 2000, 200],
      [1, bytes(1024), 7, 0],
    ]);
  });

  it('counts no traffic in an hour the VM did not run at all: no instance-hour holds it', () => {
    const hours = integrateVm(
      {
        vcpu: 1,
        registers: [reg(0, 0, 3600, 'a'), reg(1, 7200, 10800, 'a')],
        samples: [],
        deltas: [{ ptimestamp: T0, timestamp: T0 + 3 * 3600, netRx: 3600, netTx: 0 }],
      },
      T0 * 1000,
      (T0 + 3 * 3600) * 1000,
      (T0 + 3 * 3600) * 1000,
    );
    expect(hours.map((h) => [h.hour, h.networkReceiveBytes])).toEqual([
      [T0 * 1000, 1200],
      [(T0 + 7200) * 1000, 1200],
    ]);
  });

  it('runs a VM during the union of overlapping registers, an open one until now', () => {
    expect(runningIntervals([reg(0, 100, 500), reg(1, 400, 0)], (T0 + 900) * 1000)).toEqual([
      [(T0 + 100) * 1000, (T0 + 900) * 1000],
    ]);
  });
});
