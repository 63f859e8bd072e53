import { HOUR_MS } from '../domain/time';
import type { RunOutcome } from './host';
import type { CpuSecondsSource, SourceHour } from '../ingest/ports';

/** A source plugin as the ingestion run uses it: named for its reports, with its own timeout. */
export interface NamedSource {
  name: string;
  source: CpuSecondsSource;
  /** Longest one fetch may take, its hours failed after that; none for a source that bounds its own requests. */
  timeoutMs?: number;
}

function failedAll(fromHour: number, toHour: number, error: string): Map<number, SourceHour> {
  const answers = new Map<number, SourceHour>();
  for (let hour = fromHour; hour < toHour; hour += HOUR_MS) answers.set(hour, { status: 'failed', error });
  return answers;
}

/** One source's fetch, timed out and reported as that plugin's run. */
async function fetchReported(
  { name, source, timeoutMs }: NamedSource,
  fromHour: number,
  toHour: number,
  signal: AbortSignal | undefined,
  report: (plugin: string, outcome: RunOutcome) => void,
): Promise<Map<number, SourceHour>> {
  const timeout = timeoutMs === undefined ? undefined : AbortSignal.timeout(timeoutMs);
  const signals = [signal, timeout].filter((s): s is AbortSignal => s !== undefined);
  try {
    const answers = await source.fetchHours(
      fromHour,
      toHour,
      signals.length > 1 ? AbortSignal.any(signals) : signals[0],
    );
    const failedHours = [...answers.values()].filter((a) => a.status === 'failed').length;
    report(name, {
      outcome: failedHours === 0 ? 'ok' : 'failed',
      report: { ok: failedHours === 0, detail: { failedHours } },
    });
    return answers;
  } catch (err) {
    signal?.throwIfAborted();
    if (timeout?.aborted) {
      report(name, { outcome: 'timeout' });
      return failedAll(fromHour, toHour, `${name}: no answer within ${timeoutMs} ms`);
    }
    report(name, { outcome: 'error', error: err instanceof Error ? err.message : String(err) });
    throw err;
  }
}

/**
 * The enabled sources as one: each is asked for the range at once, under its own timeout, and
 * reported as its plugin's run. An hour is ok when every source answered it, holding all their rows
 * (their instances are their own); it fails when any source failed it, since storing it with part
 * of the fleet would lower its figures for good.
 */
export function combineSources(
  sources: readonly NamedSource[],
  report: (plugin: string, outcome: RunOutcome) => void = () => undefined,
): CpuSecondsSource {
  return {
    async fetchHours(fromHour, toHour, signal) {
      const answers = await Promise.all(
        sources.map((s) => fetchReported(s, fromHour, toHour, signal, report)),
      );
      const combined = new Map<number, SourceHour>();
      for (let hour = fromHour; hour < toHour; hour += HOUR_MS) {
        const parts = answers.map(
          (a) => a.get(hour) ?? { status: 'failed' as const, error: 'no answer for this hour' },
        );
        const failed = parts.flatMap((part, i) =>
          part.status === 'failed' ? [`${sources[i].name}: ${part.error}`] : [],
        );
        combined.set(
          hour,
          failed.length > 0
            ? {
                status: 'failed',
                error: sources.length === 1 ? (parts[0] as { error: string }).error : failed.join('; '),
              }
            : { status: 'ok', rows: parts.flatMap((part) => (part.status === 'ok' ? part.rows : [])) },
        );
      }
      return combined;
    },
  };
}
