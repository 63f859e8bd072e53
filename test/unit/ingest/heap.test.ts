import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { BACKFILL_HEAP_GROWING_PERCENT } from '../../../src/ingest/heap';

/**
 * A backfill's shape in miniature: a live set kept for the whole run, and "steps" of objects that
 * survive a while and then die. The flag is set after start-up, as `boundHeapGrowthForBackfill`
 * sets it. Prints the process's peak RSS in MB (then the objects counted, which keeps both sets
 * reachable to the end).
 */
const CHURN = `
const percent = Number(process.argv[1]);
if (percent > 0) require('node:v8').setFlagsFromString('--heap-growing-percent=' + percent);
const live = [];
for (let i = 0; i < 300000; i++) live.push({ i, text: 'live ' + i, pair: [i, i + 1] });
let step = [];
for (let round = 0; round < 120; round++) {
  step = [];
  for (let i = 0; i < 50000; i++) step.push({ i, text: 'step ' + round + ' ' + i, pair: [i, round] });
}
process.stdout.write(process.resourceUsage().maxRSS / 1024 + ' ' + (live.length + step.length));
`;

async function peakRssMb(heapGrowingPercent: number): Promise<number> {
  // V8 lets the old generation grow fourfold only when its limit is 2 GB or more, which it derives
  // from the machine's memory: fixed here, so both runs start from the same defaults everywhere.
  const { stdout } = await promisify(execFile)(process.execPath, [
    '--max-old-space-size=4096',
    '-e',
    CHURN,
    String(heapGrowingPercent),
  ]);
  return Number(stdout.split(' ')[0]);
}

describe('boundHeapGrowthForBackfill', () => {
  // Set after start-up, as `carbonledger ingest` sets it, the flag must still bound the old
  // generation (V8 reads it at each full collection), or a backfill of a large fleet goes past 300 MB.
  it('keeps a churning process well below the peak RSS it reaches with V8 defaults', async () => {
    const unbounded = await peakRssMb(0);
    const bounded = await peakRssMb(BACKFILL_HEAP_GROWING_PERCENT);
    expect(bounded).toBeGreaterThan(0);
    expect(bounded).toBeLessThan(unbounded * 0.75);
  });
});
