import { HOUR_MS } from '../../../src/domain/time';
import type { RunOutcome } from '../../../src/plugins/host';
import { combineSources } from '../../../src/plugins/sources';
import type { CpuSecondsSource, SourceHour } from '../../../src/ingest/ports';

const H0 = Date.parse('2025-03-10T00:00:00Z');

function source(answer: (hour: number) => SourceHour, wait?: Promise<void>): CpuSecondsSource {
  return {
    async fetchHours(from, to, signal) {
      if (wait) {
        await new Promise<void>((resolve, reject) => {
          signal?.addEventListener('abort', () => reject(signal.reason), { once: true });
          void wait.then(resolve);
        });
      }
      const out = new Map<number, SourceHour>();
      for (let hour = from; hour < to; hour += HOUR_MS) out.set(hour, answer(hour));
      return out;
    },
  };
}

const row = (instance: string, hour: number) => ({
  hour,
  instance,
  labels: {},
  busyCpuSeconds: 1,
  idleCpuSeconds: 2,
});

describe('combineSources', () => {
  it('holds every source’s rows in an hour all answered, and fails an hour any failed, naming it', async () => {
    const reports: Array<[string, RunOutcome['outcome']]> = [];
    const combined = combineSources(
      [
        {
          name: 'prometheus',
          source: source((h) => ({ status: 'ok', rows: [row('vm:9100', h)] })),
          timeoutMs: 1000,
        },
        {
          name: 'opennebula',
          source: source((h) =>
            h === H0 + HOUR_MS
              ? { status: 'failed', error: 'db down' }
              : { status: 'ok', rows: [row('one-1', h)] },
          ),
          timeoutMs: 1000,
        },
      ],
      (name, outcome) => reports.push([name, outcome.outcome]),
    );
    const answers = await combined.fetchHours(H0, H0 + 2 * HOUR_MS);
    expect(answers.get(H0)).toEqual({ status: 'ok', rows: [row('vm:9100', H0), row('one-1', H0)] });
    expect(answers.get(H0 + HOUR_MS)).toEqual({ status: 'failed', error: 'opennebula: db down' });
    expect(reports).toEqual([
      ['prometheus', 'ok'],
      ['opennebula', 'failed'],
    ]);
  });

  it('fails the hours of a source that outlives its timeout, and reports the timeout', async () => {
    const reports: Array<[string, RunOutcome['outcome']]> = [];
    const never = new Promise<void>(() => undefined);
    const combined = combineSources(
      [{ name: 'opennebula', source: source(() => ({ status: 'ok', rows: [] }), never), timeoutMs: 50 }],
      (name, outcome) => reports.push([name, outcome.outcome]),
    );
    const answers = await combined.fetchHours(H0, H0 + HOUR_MS);
    expect(answers.get(H0)).toEqual({ status: 'failed', error: 'opennebula: no answer within 50 ms' });
    expect(reports).toEqual([['opennebula', 'timeout']]);
  });
});
