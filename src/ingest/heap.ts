import { setFlagsFromString } from 'node:v8';

/**
 * Heap growth past the last full collection allowed to a backfilling process, in percent.
 *
 * A backfill's survivors are short-lived: a step's answers, costed hours and day texts, dead once
 * the step is written (33–50 MB for the 1,000-VM bench fleet). V8 lets the old generation grow up
 * to four times what survived its last full collection before collecting again, so the process sat
 * at 250–390 MB. At 1.5× it stays under 300 MB for the cost of more, smaller full collections
 * (BENCHMARKS.md has the figures). V8 reads the flag at every full collection, so setting it after
 * start-up takes effect (unlike the heap's size limits).
 */
export const BACKFILL_HEAP_GROWING_PERCENT = 50;

/** Bounds this process's heap growth for a long ingestion; it applies to the whole process. */
export function boundHeapGrowthForBackfill(): void {
  setFlagsFromString(`--heap-growing-percent=${BACKFILL_HEAP_GROWING_PERCENT}`);
}
