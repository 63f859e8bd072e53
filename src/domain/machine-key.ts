/**
 * The per-machine key inside day entries: the machine type upper-cased, each run of
 * non-alphanumerics turned into `_`, trimmed. `Artemis (Matlab)` → `ARTEMIS_MATLAB`.
 */
export function machineKey(machineName: string): string {
  const key = machineName
    .toUpperCase()
    .replace(/[^A-Z0-9]+/g, '_')
    .replace(/^_+|_+$/g, '');
  // A name made only of punctuation would vanish; keep a key that cannot collide with `all`/`totals`.
  return key === '' ? 'UNNAMED' : key;
}
