import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DAY_MS } from '../../../src/domain/time';
import { ingestRange } from '../../../src/ingest/run';
import { openJsonStore } from '../../../src/store/json';
import { runCli } from '../../support/cli';
import { directIngestDeps, fakeCpuSource, tempDirs } from '../../support/fake-ingest';
import { startFakePerseus } from '../../support/perseus-server';

const dirs = tempDirs('cl-cli-sinks-');
afterEach(() => dirs.cleanup());

const run = runCli;

describe('carbonledger sinks', () => {
  it('run sends the complete days asked for (exit 0, or 3 when some were not accepted); status lists them', async () => {
    const perseus = await startFakePerseus('good-token');
    try {
      const dataDir = dirs.make();
      const store = await openJsonStore({ dataDir });
      const day = Date.parse('2025-03-10T00:00:00Z');
      await ingestRange(directIngestDeps(store, fakeCpuSource()), day, day + DAY_MS);
      await store.close();
      const config = (token: string) => {
        const file = join(dataDir, `config-${token}.json`);
        const sink = { url: perseus.url, token, projects: { P: 'oid-p' }, resource: 'cloud' };
        writeFileSync(file, JSON.stringify({ store: { dataDir }, sinks: { perseus: sink } }));
        return file;
      };
      const refused = await run([
        'sinks',
        'run',
        '--from',
        '2025-03-09',
        '--to',
        '2025-03-10',
        '--config',
        config('bad-token'),
      ]);
      expect(refused.code).toBe(3);
      expect(refused.stdout).toContain('2025-03-09: not complete');
      expect(refused.stdout).toContain('2025-03-10 P: unauthorized (HTTP 401)');
      expect(refused.stdout + refused.stderr).not.toContain('bad-token');

      const sent = await run([
        'sinks',
        'run',
        '--from',
        '2025-03-10',
        '--to',
        '2025-03-10',
        '--config',
        config('good-token'),
      ]);
      expect(sent).toMatchObject({ code: 0 });
      expect(sent.stdout).toContain('1 sent, 1 accepted');
      expect(perseus.entries).toHaveLength(1);

      const status = await run(['sinks', 'status', '--config', config('good-token')]);
      expect(status.code).toBe(0);
      expect(status.stdout).toContain(
        'day\tproject\tuser/partition\tstatus\thttp\tsent at\tattempts\tvalue\tanswer\n',
      );
      expect(status.stdout).toMatch(/2025-03-10\tP\t-\taccepted\t201\t\S+Z\t2\t[\d.]+\t/);
      const sentValue = perseus.entries[0].body.value as number;
      expect(status.stdout).toContain(`\t2\t${Number(sentValue.toPrecision(12))}\t`);

      const badDay = await run([
        'sinks',
        'run',
        '--from',
        '2025-02-30',
        '--to',
        '2025-03-01',
        '--config',
        config('good-token'),
      ]);
      expect(badDay).toMatchObject({ code: 2 });
      expect(badDay.stderr).toContain('--from: "2025-02-30" is not a day');
    } finally {
      await perseus.close();
    }
  });
});
