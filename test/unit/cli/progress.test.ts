import { progressBar } from '../../../src/cli/progress';

const ERASE_LINE = '\x1b[K';

function terminal() {
  let screen = '';
  const stream = { write: (text: string) => ((screen += text), true) } as unknown as NodeJS.WriteStream;
  /** The lines as a terminal shows them: `\r` returns to the line's start, ESC [ K erases it. */
  const lines = () => screen.split('\n').map((line) => line.split('\r').at(-1)!.replace(ERASE_LINE, ''));
  return { stream, lines };
}

describe('the progress bar', () => {
  it('keeps a log line off its own line and draws itself again below it', () => {
    const { stream, lines } = terminal();
    const bar = progressBar(stream, 'ingest');
    bar.update(1, 4);
    bar.writeLine('{"level":"warn","msg":"hour failed"}');
    bar.update(4, 4);
    bar.finish();
    bar.writeLine('{"level":"info","msg":"ingest finished"}');
    expect(lines()).toEqual([
      '{"level":"warn","msg":"hour failed"}',
      'ingest [##############################] 100% 4/4 hours',
      '{"level":"info","msg":"ingest finished"}',
      '',
    ]);
  });
});
