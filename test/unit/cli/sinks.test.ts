import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DAY_MS, HOUR_MS } from '../../../src/domain/time';
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
  it('run agrees with status: an entry whose latest post was not accepted is sent again, by default too', async () => {
    const perseus = await startFakePerseus('good-token');
    try {
      const dataDir = dirs.make();
      const day = Date.parse('2025-03-10T00:00:00Z');
      const source = fakeCpuSource();
      // Figures A, or B with hour 5 emptied by a repair.
      const ingest = async (figures: 'A' | 'B') => {
        if (figures === 'B') source.emptied.add(day + 5 * HOUR_MS);
        else source.emptied.clear();
        const store = await openJsonStore({ dataDir });
        await ingestRange(directIngestDeps(store, source, { replace: true }), day, day + DAY_MS);
        await store.close();
      };
      const config = (token: string) => {
        const file = join(dataDir, `config-${token}.json`);
        const sink = { url: perseus.url, token, projects: { P: 'oid-p' }, resource: 'cloud', unit: 'kwh' };
        writeFileSync(file, JSON.stringify({ store: { dataDir }, sinks: { perseus: sink } }));
        return file;
      };
      const range = ['--from', '2025-03-10', '--to', '2025-03-10'];
      const runWith = (token: string, days: string[]) =>
        run(['sinks', 'run', ...days, '--config', config(token)]);
      const status = async () => (await run(['sinks', 'status', '--config', config('good-token')])).stdout;

      await ingest('A');
      expect(await runWith('good-token', range)).toMatchObject({ code: 0 });
      await ingest('B');
      expect(await runWith('bad-token', range)).toMatchObject({ code: 3 });
      expect(await status()).toMatch(/2025-03-10\tP\t-\tunauthorized\t401\t/);
      // Back to the figures last accepted: still sent, since the latest post was not accepted.
      await ingest('A');
      const again = await runWith('good-token', range);
      expect(again.stdout).toContain('1 sent, 1 accepted, 0 unchanged, 0 not accepted');
      expect(again.code).toBe(0);
      expect(await status()).toMatch(/2025-03-10\tP\t-\taccepted\t20\d\t\S+Z\t3\t/);

      // Without --from/--to, a day long out of the lookback that is not accepted is sent too.
      await ingest('B');
      perseus.failNext.push(302);
      expect(await runWith('good-token', range)).toMatchObject({ code: 3 });
      await ingest('A');
      const byDefault = await runWith('good-token', []);
      expect(byDefault.stdout).toContain('1 sent, 1 accepted');
      expect(byDefault.code).toBe(0);
      expect(await status()).toMatch(/2025-03-10\tP\t-\taccepted\t20\d\t\S+Z\t5\t/);
      expect(await runWith('good-token', [])).toMatchObject({ code: 0 });
      expect(perseus.requests).toHaveLength(5);
    } finally {
      await perseus.close();
    }
  });
});
