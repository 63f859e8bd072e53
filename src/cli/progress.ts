/** A one-line progress bar for a terminal; callers use log lines instead when stderr is not one. */
export function progressBar(
  stream: NodeJS.WriteStream,
  label: string,
): { update(done: number, total: number): void; finish(): void } {
  const width = 30;
  let last = '';
  return {
    update(done, total) {
      const fraction = total === 0 ? 1 : Math.min(1, done / total);
      const filled = Math.round(fraction * width);
      const bar = `${'#'.repeat(filled)}${'.'.repeat(width - filled)}`;
      const line = `${label} [${bar}] ${Math.floor(fraction * 100)}% ${done}/${total} hours`;
      if (line === last) return;
      last = line;
      stream.write(`\r${line}`);
    },
    finish() {
      if (last) stream.write('\n');
    },
  };
}
