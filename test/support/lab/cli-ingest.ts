import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { main } from '../../../src/cli';
import type { Lab } from './prometheus-lab';

/**
 * `carbonledger ingest` over [from, to) from the lab, into `<workDir>/data`, with its JSON log
 * captured rather than printed. `config` is laid over the lab's Prometheus, registry and store.
 */
export async function ingestFromLab(
  lab: Lab,
  workDir: string,
  from: number,
  to: number,
  config: Record<string, unknown> = {},
): Promise<{ code: number; log: string }> {
  const file = join(workDir, 'config.json');
  writeFileSync(
    file,
    JSON.stringify({
      prometheus: { url: lab.url, chunkHours: 12, attempts: 1, timeoutMs: 10_000 },
      workspaces: { file: lab.registryFile },
      store: { kind: 'json', dataDir: join(workDir, 'data') },
      ...config,
    }),
  );
  const lines: string[] = [];
  const spy = jest
    .spyOn(process.stderr, 'write')
    .mockImplementation((chunk) => (lines.push(String(chunk)), true));
  const iso = (ms: number): string => new Date(ms).toISOString();
  try {
    const code = await main(['ingest', '--from', iso(from), '--to', iso(to), '--config', file]);
    return { code, log: lines.join('') };
  } finally {
    spy.mockRestore();
  }
}
