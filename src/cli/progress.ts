export interface ProgressBar {
  update(done: number, total: number): void;
  /** Writes a whole line (a log line) above the bar, which is then drawn again below it. */
  writeLine(line: string): void;
  finish(): void;
}

/** A one-line progress bar for a terminal; callers use log lines instead when stderr is not one. */
export function progressBar(stream: NodeJS.WriteStream, label: string): ProgressBar {
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
    writeLine(line) {
      // \r and erase-line (ECMA-48 EL, `ESC [ K`) take the bar off its line before the text.
      stream.write(last ? `\r\x1b[K${line}\n${last}` : `${line}\n`);
    },
    finish() {
      if (last) stream.write('\n');
      last = '';
    },
  };
}
