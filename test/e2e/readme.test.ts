import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';

import { main } from '../../src/cli';
import { parseConfig } from '../../src/config';
import { fixedClock } from '../../src/domain/clock';
import { silentLogger } from '../../src/log';
import { startService, type RunningService } from '../../src/serve';

const README = readFileSync(resolve(__dirname, '../../README.md'), 'utf8');
/** The README's dates sit inside the year of demo data generated up to this instant. */
const DEMO_NOW = Date.parse('2026-11-27T00:00:00Z');

function codeBlocks(language: string): string[] {
  const fence = new RegExp('```' + language + '\\n([\\s\\S]*?)```', 'g');
  return [...README.matchAll(fence)].map((match) => match[1]);
}

/** Shell lines of the README's sh blocks that run the given command. */
function shellLines(command: string): string[] {
  return codeBlocks('sh')
    .flatMap((block) => block.split('\n'))
    .filter((line) => line.startsWith(command));
}

type GraphQLAnswer = { data?: Record<string, unknown>; errors?: Array<{ message: string }> };

describe('the README', () => {
  let dataDir: string;
  let service: RunningService;

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'carbonledger-readme-'));
    const config = parseConfig({
      store: { dataDir },
      server: { port: 0 },
      // Nothing listens there: activeWorkspaces answers from a failed poll, as in the demo.
      prometheus: { url: 'http://127.0.0.1:9', attempts: 1, timeoutMs: 2000 },
    });
    service = await startService({
      config,
      log: silentLogger,
      schedule: false,
      demo: true,
      clock: fixedClock(DEMO_NOW),
    });
    // Seeding a year of the demo fleet's hours, CPU and resources, with the suite's other files running.
  }, 300_000);

  afterAll(async () => {
    await service.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  async function run(query: string): Promise<GraphQLAnswer> {
    const response = await fetch(service.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query }),
    });
    expect(response.status).toBe(200);
    return (await response.json()) as GraphQLAnswer;
  }

  it('opens with the command that runs the service and the one that runs the tests, as .ci/run does', () => {
    const blocks = codeBlocks('sh');
    expect(blocks[0].trim()).toBe('npm install && node dist/cli.js serve --demo --no-schedule');
    expect(blocks[1].trim()).toBe('npm ci && npm test');
    expect(readFileSync(resolve(__dirname, '../../.ci/run'), 'utf8')).toContain('\nnpm ci && npm test\n');
  });

  it('has example queries that all run without errors and show demo figures', async () => {
    const queries = codeBlocks('graphql');
    expect(queries.length).toBeGreaterThanOrEqual(5);
    for (const query of queries) {
      const answer = await run(query);
      expect({ query, errors: answer.errors }).toEqual({ query, errors: undefined });
      expect(answer.data).toBeDefined();
    }
  });

  it('has an activeWorkspaces example that, with no Prometheus behind the demo, is empty and says it is stale', async () => {
    const [query] = codeBlocks('graphql').filter((block) => block.includes('activeWorkspaces'));
    expect((await run(query)).data).toEqual({
      activeWorkspaces: [],
      activeWorkspacesStatus: { takenAt: null, stale: true },
    });
  });

  it('shows non-zero figures for every day of the dashboard query', async () => {
    const answer = await run(codeBlocks('graphql')[0]);
    const series = answer.data!.usageSeries as {
      total: { totalKwh: number };
      buckets: Array<{ status: string; usage: { busyKwh: number } | null }>;
    };
    expect(series.buckets).toHaveLength(30);
    expect(series.total.totalKwh).toBeGreaterThan(0);
    for (const bucket of series.buckets) {
      expect(bucket.status).toBe('OK');
      expect(bucket.usage!.busyKwh).toBeGreaterThan(0);
    }
  });

  it('has a curl example that answers with the demo projects', async () => {
    const [curl] = shellLines('curl ');
    const port = new URL(service.url).port;
    const { stdout } = await promisify(execFile)('sh', ['-c', curl.replace(':4000/', `:${port}/`)]);
    expect(JSON.parse(stdout)).toEqual({ data: { usageKeys: ['CLF', 'Diamond', 'IDAaaS'] } });
  });

  it('has an export example that writes a CSV with a header and a row a day', async () => {
    const [line] = shellLines('node dist/cli.js export');
    const argv = line
      .replace(/\s*>.*$/, '')
      .split(/\s+/)
      .slice(2);
    const written: string[] = [];
    const write = jest.spyOn(process.stdout, 'write').mockImplementation((chunk, ...rest) => {
      written.push(String(chunk));
      const callback = rest.find((arg) => typeof arg === 'function') as (() => void) | undefined;
      callback?.();
      return true;
    });
    process.env.DATA_DIR = dataDir;
    try {
      expect(await main(argv)).toBe(0);
    } finally {
      delete process.env.DATA_DIR;
      write.mockRestore();
    }
    const rows = written.join('').trimEnd().split('\n');
    expect(rows[0]).toBe(
      'level,key,start,end,status,failedHours,busyCpuSeconds,idleCpuSeconds,busyKwh,idleKwh,busyGco2eq,idleGco2eq,totalKwh,totalGco2eq,' +
        'upHours,memoryByteHours,memoryBytesAvg,diskByteHours,diskBytesAvg,networkReceiveBytes,networkTransmitBytes,' +
        'memoryKwh,storageKwh,networkKwh,memoryGco2eq,storageGco2eq,networkGco2eq,operationalKwh,operationalGco2eq,embodiedGco2eq',
    );
    expect(rows).toHaveLength(1 + 31);
    expect(rows[1]).toMatch(/^PROJECT,IDAaaS,2026-10-01T00:00:00.000Z,2026-10-02T00:00:00.000Z,OK,0,\d/);
  });

  it('has a dailySummaries example that shows a week of the demo user’s summaries with figures', async () => {
    const [query] = codeBlocks('graphql').filter((block) => block.includes('dailySummaries'));
    const summaries = (await run(query)).data!.dailySummaries as Array<{
      date: string;
      vmMinutes: number;
      usage: { totalKwh: number };
      complete: boolean;
    }>;
    expect(summaries.map((s) => s.date.slice(0, 10))).toEqual([
      '2026-11-20',
      '2026-11-21',
      '2026-11-22',
      '2026-11-23',
      '2026-11-24',
      '2026-11-25',
      '2026-11-26',
    ]);
    for (const summary of summaries) {
      expect(summary.vmMinutes).toBeGreaterThan(0);
      expect(summary.usage.totalKwh).toBeGreaterThan(0);
    }
  });

  it('has a configuration example that is the defaults, so it runs as pasted', () => {
    const [example] = codeBlocks('json');
    expect(parseConfig(JSON.parse(example))).toEqual(parseConfig({}));
  });
});
