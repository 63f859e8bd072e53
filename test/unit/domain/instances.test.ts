import { observeInstances } from '../../../src/aggregate/instance-lives';
import { hasEnded, hostPeriods, type InstanceLife, normaliseSpans } from '../../../src/domain/instances';
import { HOUR_MS } from '../../../src/domain/time';
import type { AttributedInstanceHour } from '../../../src/domain/usage';

const at = (iso: string): number => Date.parse(iso);

const life = (spans: InstanceLife['spans'], deletedAt: number | null = null): InstanceLife => ({
  instance: 'a:9100',
  project: 'P',
  machineName: 'Small',
  user: 'ann',
  experiment: 'E',
  spans,
  deletedAt,
});

describe('instance lives', () => {
  it('joins touching runs on one host, also across a run on another host', () => {
    expect(
      normaliseSpans([
        { host: 'h1', from: 3, to: 5 },
        { host: 'h1', from: 0, to: 3 },
        { host: 'h2', from: 4, to: 6 },
        { host: 'h1', from: 5, to: 7 },
        { host: 'h1', from: 9, to: 10 },
      ]),
    ).toEqual([
      { host: 'h1', from: 0, to: 7 },
      { host: 'h2', from: 4, to: 6 },
      { host: 'h1', from: 9, to: 10 },
    ]);
  });

  it('makes one host period of runs on one host, open while the instance has not ended', () => {
    const spans = [
      { host: 'h1', from: at('2025-09-21T00:00:00Z'), to: at('2025-09-21T05:00:00Z') },
      { host: 'h1', from: at('2025-09-21T08:00:00Z'), to: at('2025-09-21T09:00:00Z') },
      { host: 'h2', from: at('2025-09-21T09:00:00Z'), to: at('2025-09-21T12:00:00Z') },
    ];
    expect(hostPeriods(life(spans), true)).toEqual([
      { host: 'h1', from: at('2025-09-21T00:00:00Z'), to: at('2025-09-21T09:00:00Z'), reason: null },
      { host: 'h2', from: at('2025-09-21T09:00:00Z'), to: at('2025-09-21T12:00:00Z'), reason: null },
    ]);
    expect(hostPeriods(life(spans), false)[1].to).toBeNull();
  });

  it('ends after 24 hours without samples, or once the registry deleted its workspace', () => {
    const last = at('2025-09-21T10:00:00Z');
    const running = life([{ host: 'h', from: last - 5 * HOUR_MS, to: last + HOUR_MS }]);
    expect(hasEnded(running, null)).toBe(false);
    expect(hasEnded(running, last + 23 * HOUR_MS)).toBe(false);
    expect(hasEnded(running, last + 24 * HOUR_MS)).toBe(true);
    const deleted = { ...running, deletedAt: last + 90 * 60_000 };
    expect(hasEnded(deleted, last)).toBe(false);
    expect(hasEnded(deleted, last + HOUR_MS)).toBe(true);
  });

  it('observes each life of a batch: its hours by host, the latest experiment and registry deletion', () => {
    const hour = (iso: string, fields: Partial<AttributedInstanceHour> = {}): AttributedInstanceHour => ({
      hour: at(iso),
      instance: 'a:9100',
      host: 'h1',
      project: 'P',
      machineName: 'Small',
      user: 'frank',
      experiment: 'E1',
      busyCpuSeconds: 1,
      idleCpuSeconds: 1,
      upHours: 1,
      memoryByteHours: 0,
      diskByteHours: 0,
      networkReceiveBytes: 0,
      networkTransmitBytes: 0,
      ...fields,
    });
    const deletions: Record<string, number> = { [`h2@${at('2025-09-22T11:00:00Z')}`]: 42 };
    const observed = observeInstances(
      [
        hour('2025-09-22T11:00:00Z', { host: 'h2', experiment: 'E2' }),
        hour('2025-09-22T09:00:00Z'),
        hour('2025-09-22T10:00:00Z'),
        hour('2025-09-22T12:00:00Z', { user: 'grace', machineName: 'Big' }),
      ],
      (host, h) => deletions[`${host}@${h}`] ?? null,
    );
    expect(observed).toEqual([
      {
        instance: 'a:9100',
        project: 'P',
        machineName: 'Big',
        user: 'grace',
        experiment: 'E1',
        deletedAt: null,
        spans: [{ host: 'h1', from: at('2025-09-22T12:00:00Z'), to: at('2025-09-22T13:00:00Z') }],
      },
      {
        instance: 'a:9100',
        project: 'P',
        machineName: 'Small',
        user: 'frank',
        experiment: 'E2',
        deletedAt: 42,
        spans: [
          { host: 'h1', from: at('2025-09-22T09:00:00Z'), to: at('2025-09-22T11:00:00Z') },
          { host: 'h2', from: at('2025-09-22T11:00:00Z'), to: at('2025-09-22T12:00:00Z') },
        ],
      },
    ]);
  });
});
