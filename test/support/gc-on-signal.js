// Preloaded (`node --expose-gc -r ./test/support/gc-on-signal.js …`) into a process a test measures:
// on SIGUSR2 it collects garbage and writes its memory use as one JSON line on stderr, so the test
// reads what the process really holds rather than garbage not yet collected.
process.on('SIGUSR2', () => {
  globalThis.gc();
  const { rss, heapUsed, external, arrayBuffers } = process.memoryUsage();
  process.stderr.write(`${JSON.stringify({ memoryAfterGc: { rss, heapUsed, external, arrayBuffers } })}\n`);
});
