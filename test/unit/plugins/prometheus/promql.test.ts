import {
  cpuSecondsQueries,
  escapeRegex,
  hourlyRange,
  hourOfPoint,
  quotePromqlString,
} from '../../../../src/plugins/prometheus/promql';
import { LAB_QUERIES, LAB_START } from './fake-prometheus';

const HOUR = 3_600_000;

describe('cpuSecondsQueries', () => {
  it('builds the idle and busy queries that were recorded from a real Prometheus', () => {
    expect(cpuSecondsQueries(['idle'], 'job="node"')).toEqual({
      idle: LAB_QUERIES.idle,
      busy: LAB_QUERIES.busy,
    });
  });

  it('leaves the matchers alone when no selector is configured', () => {
    expect(cpuSecondsQueries(['idle'], '')).toEqual({
      idle: 'sum without (cpu, mode) (increase(node_cpu_seconds_total{mode=~"idle"}[1h]))',
      busy: 'sum without (cpu, mode) (increase(node_cpu_seconds_total{mode!~"idle"}[1h]))',
    });
  });

  it('joins several idle modes into one regex and escapes them, RE2 first, then the string', () => {
    const { idle, busy } = cpuSecondsQueries(['idle', 'guest.nice', 'a"b'], '');
    expect(idle).toContain('{mode=~"idle|guest\\\\.nice|a\\"b"}');
    expect(busy).toContain('{mode!~"idle|guest\\\\.nice|a\\"b"}');
  });

  it('accepts a selector written with braces or stray commas', () => {
    for (const selector of [
      '{job="node", env="prod"}',
      ' job="node", env="prod", ',
      ',job="node", env="prod"',
    ]) {
      expect(cpuSecondsQueries(['idle'], selector).idle).toBe(
        'sum without (cpu, mode) (increase(node_cpu_seconds_total{mode=~"idle", job="node", env="prod"}[1h]))',
      );
    }
  });
});

describe('escapeRegex and quotePromqlString', () => {
  it('escape every RE2 metacharacter and the string delimiters', () => {
    expect(escapeRegex('a.b+c*d?e(f)g|h[i]j{k}l^m$n\\o')).toBe(
      'a\\.b\\+c\\*d\\?e\\(f\\)g\\|h\\[i\\]j\\{k\\}l\\^m\\$n\\\\o',
    );
    expect(quotePromqlString('say "hi"\\\n')).toBe('"say \\"hi\\"\\\\\\n"');
  });
});

describe('hourlyRange', () => {
  it('evaluates one hour after each hour start, every 3600 s', () => {
    expect(hourlyRange(LAB_START, LAB_START + 7 * HOUR)).toEqual({
      start: 1758416400,
      end: 1758441600,
      step: 3600,
    });
  });

  it('maps a point back to the hour it covers', () => {
    expect(hourOfPoint(1758416400)).toBe(LAB_START);
    expect(hourOfPoint(1758441600)).toBe(LAB_START + 7 * HOUR);
  });
});
