import { liveQueries } from '../../../../src/plugins/active/promql';

describe('liveQueries', () => {
  it('sums the counters since boot per series, joined on instance to targets that are up', () => {
    expect(liveQueries(['idle'], '')).toEqual({
      idle: 'sum without (cpu, mode) (node_cpu_seconds_total{mode=~"idle"}) and on (instance) (up == 1)',
      busy: 'sum without (cpu, mode) (node_cpu_seconds_total{mode!~"idle"}) and on (instance) (up == 1)',
      bootTime: 'max by (instance) (node_boot_time_seconds)',
    });
  });

  it('adds the configured selector, braces or not, and quotes idle modes literally', () => {
    const { idle, busy } = liveQueries(['idle', 'io.wait'], '{job="node"}');
    expect(idle).toBe(
      'sum without (cpu, mode) (node_cpu_seconds_total{mode=~"idle|io\\\\.wait", job="node"}) and on (instance) (up == 1)',
    );
    expect(busy).toContain('{mode!~"idle|io\\\\.wait", job="node"}');
  });
});
