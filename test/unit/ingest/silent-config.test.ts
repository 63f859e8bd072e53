import { writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { main } from '../../../src/cli';
import { parseConfig } from '../../../src/config';
import { ingestRange } from '../../../src/ingest/run';
import type { Logger } from '../../../src/log';
import { selectorProblem } from '../../../src/plugins/prometheus/selector-check';
import type { CpuSecondsSource, SourceHour } from '../../../src/ingest/ports';
import { emptyRegistry } from '../../../src/plugins/workspaces/registry';
import { startService } from '../../../src/serve';
import { openJsonStore } from '../../../src/store/json';
import { fakeCarbon, hoursIn, tempDirs } from '../../support/fake-ingest';

const dirs = tempDirs('cl-silent-config-');
afterEach(() => dirs.cleanup());
const at = (iso: string) => Date.parse(iso);

function recordingLogger() {
  const warnings: Array<{ msg: string; fields?: Record<string, unknown> }> = [];
  const log: Logger = {
    info: () => undefined,
    warn: (msg, fields) => void warnings.push({ msg, fields }),
    error: () => undefined,
    child: () => log,
  };
  return { log, warnings };
}

/** One VM of machine type `cpu.small`, with no project label. */
const unlabelled: CpuSecondsSource = {
  async fetchHours(fromHour, toHour) {
    const answers = new Map<number, SourceHour>();
    for (const hour of hoursIn(fromHour, toHour)) {
      answers.set(hour, {
        status: 'ok',
        rows: [
          {
            hour,
            instance: 'vm-1:9100',
            labels: { instance: 'vm-1:9100', machine_name: 'cpu.small' },
            busyCpuSeconds: 100,
            idleCpuSeconds: 3500,
          },
        ],
      });
    }
    return answers;
  },
};

describe('config that matches nothing is named', () => {
  it('an energy.machines entry no instance has, and a project label no series has, each get a warning naming the config path', async () => {
    const config = parseConfig({
      energy: {
        machines: { 'Artemis (Matlab)': { busyWattsPerCore: 20 }, 'cpu.small': { busyWattsPerCore: 8 } },
      },
    });
    const store = await openJsonStore({ dataDir: dirs.make(), log: recordingLogger().log });
    const { log, warnings } = recordingLogger();
    const [from, to] = [at('2025-09-20T06:00:00Z'), at('2025-09-20T08:00:00Z')];
    await ingestRange(
      {
        source: unlabelled,
        carbon: fakeCarbon(),
        registry: emptyRegistry,
        store,
        energy: config.energy,
        labels: config.prometheus.labels,
        stepHours: 24,
        now: () => to,
        log,
      },
      from,
      to,
    );
    expect(warnings.map((w) => w.msg)).toEqual([
      'prometheus.labels.project: no series of this run has the label "cloud_project_name"',
      'energy.machines: no instance has ever had these machine types; their watts are unused',
    ]);
    expect(warnings[0].fields).toEqual({
      consequence: 'all 2 instance-hours are counted under the project "unknown"',
    });
    expect(warnings[1].fields).toMatchObject({
      unmatched: ['energy.machines.Artemis (Matlab)'],
      machineTypes: ['cpu.small'],
    });
    await store.close();
  });

  it('a project label this run’s series lack is named even when earlier runs stored projects', async () => {
    const config = parseConfig({});
    const store = await openJsonStore({ dataDir: dirs.make(), log: recordingLogger().log });
    const run = (source: CpuSecondsSource, labels: typeof config.prometheus.labels, log: Logger) =>
      ingestRange(
        {
          source,
          carbon: fakeCarbon(),
          registry: emptyRegistry,
          store,
          energy: config.energy,
          labels,
          stepHours: 24,
          now: () => at('2025-09-21T00:00:00Z'),
          log,
        },
        at('2025-09-20T06:00:00Z'),
        at('2025-09-20T08:00:00Z'),
      );
    // The series carry a project under `tenant`; a first run reads it, so the store holds a project.
    const labelled: CpuSecondsSource = {
      async fetchHours(fromHour, toHour) {
        const answers = await unlabelled.fetchHours(fromHour, toHour);
        for (const answer of answers.values()) {
          if (answer.status === 'ok') for (const row of answer.rows) row.labels.tenant = 'physics';
        }
        return answers;
      },
    };
    const first = recordingLogger();
    await run(labelled, { ...config.prometheus.labels, project: 'tenant' }, first.log);
    expect(first.warnings.filter((w) => w.msg.startsWith('prometheus.labels.project'))).toEqual([]);
    expect(await store.listKeys('PROJECT')).toEqual(['physics']);

    // A typo in the label: the store's projects must not hide that this run found none.
    const second = recordingLogger();
    await run(labelled, { ...config.prometheus.labels, project: 'tennant' }, second.log);
    expect(second.warnings.map((w) => w.msg)).toContain(
      'prometheus.labels.project: no series of this run has the label "tennant"',
    );
    await store.close();
  });

  describe('a prometheus.selector that is not PromQL', () => {
    let prometheus: Server;
    let url: string;
    beforeAll(async () => {
      // Answers as Prometheus does: 400 bad_data for a query it cannot parse.
      prometheus = createServer((req, res) => {
        const query = new URL(req.url ?? '/', 'http://x').searchParams.get('query') ?? '';
        let body = '';
        req.on('data', (chunk: Buffer) => (body += chunk.toString()));
        req.on('end', () => {
          const asked = query || (new URLSearchParams(body).get('query') ?? '');
          res.setHeader('content-type', 'application/json');
          if (asked.includes('job=node')) {
            res.statusCode = 400;
            res.end(
              JSON.stringify({
                status: 'error',
                errorType: 'bad_data',
                error: 'parse error: unexpected identifier "node"',
              }),
            );
          } else {
            res.end(JSON.stringify({ status: 'success', data: { resultType: 'vector', result: [] } }));
          }
        });
      });
      await new Promise<void>((listening) => prometheus.listen(0, '127.0.0.1', () => listening()));
      url = `http://127.0.0.1:${(prometheus.address() as AddressInfo).port}`;
    });
    afterAll(() => new Promise((closed) => prometheus.close(closed)));

    it('is found by asking Prometheus to parse it; a valid one, or an unreachable Prometheus, is no finding', async () => {
      expect(await selectorProblem({ url, timeoutMs: 2000, selector: 'job=node' })).toContain('bad_data');
      expect(await selectorProblem({ url, timeoutMs: 2000, selector: 'job="node"' })).toBeNull();
      expect(
        await selectorProblem({ url: 'http://127.0.0.1:9', timeoutMs: 2000, selector: 'job=node' }),
      ).toBeNull();
    });

    it('serve warns at start-up naming prometheus.selector, and still serves', async () => {
      const { log, warnings } = recordingLogger();
      const service = await startService({
        config: parseConfig({
          prometheus: { url, selector: 'job=node' },
          store: { dataDir: join(dirs.make(), 'data') },
          server: { port: 0 },
        }),
        log,
        schedule: true,
        demo: false,
      });
      await service.close();
      expect(warnings.map((w) => w.msg)).toContain(
        'prometheus.selector: not valid PromQL; every ingested hour will fail until it is fixed',
      );
    });

    it('ingest exits 2 naming prometheus.selector before it ingests anything', async () => {
      const dir = dirs.make();
      const file = join(dir, 'config.json');
      writeFileSync(
        file,
        JSON.stringify({ prometheus: { url, selector: 'job=node' }, store: { dataDir: join(dir, 'data') } }),
      );
      let stderr = '';
      const write = jest
        .spyOn(process.stderr, 'write')
        .mockImplementation((chunk) => ((stderr += String(chunk)), true));
      try {
        const code = await main([
          'ingest',
          '--from',
          '2025-09-21T00:00:00Z',
          '--to',
          '2025-09-21T01:00:00Z',
          '--config',
          file,
        ]);
        expect(code).toBe(2);
      } finally {
        write.mockRestore();
      }
      expect(stderr).toContain('carbonledger ingest: prometheus.selector: "job=node" is not valid PromQL');
    });
  });
});
