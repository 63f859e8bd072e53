import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, BrowserContext, Page, Request } from 'playwright-core';

import { hashToken } from '../../src/auth/tokens';
import { parseConfig } from '../../src/config';
import { DAY_MS } from '../../src/domain/time';
import { silentLogger } from '../../src/log';
import { startService, type RunningService } from '../../src/serve';
import { formatFigure } from '../../web/src/format';
import { launchChromium, offlineContext } from '../support/chromium';
import { seedDemoWithOutage } from '../support/demo-outage';

const OUTPUT_DIR = join(__dirname, '..', '..', 'test-output', 'dashboard');
const ADMIN_TOKEN = 'dashboard-admin-token';
const IDAAAS_TOKEN = 'dashboard-idaaas-token';
const NOW = Date.now();
/** Five days ago, midnight UTC: the day Prometheus was down. */
const FAILED_DAY = Math.floor(NOW / DAY_MS) * DAY_MS - 5 * DAY_MS;
const FAILED_DAY_ISO = new Date(FAILED_DAY).toISOString();

interface GraphQLAnswer<T> {
  data?: T;
  errors?: Array<{ message: string; extensions?: { code?: string } }>;
}

describe('the dashboard in a real browser, against serve --demo', () => {
  let dataDir: string;
  let service: RunningService;
  let origin: string;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  let offMachine: Set<string>;
  const problems: string[] = [];
  /** The variables of the series the page last drew for IDAaaS over 30 days. */
  let shownVariables: Record<string, unknown> = {};
  /** The one kind of console error expected: the browser reporting the 401 it was answered. */
  let expectingUnauthenticated = false;

  async function api<T>(query: string, variables: Record<string, unknown>, token = ADMIN_TOKEN): Promise<T> {
    const res = await fetch(service.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify({ query, variables }),
    });
    const answer = (await res.json()) as GraphQLAnswer<T>;
    expect(answer.errors).toBeUndefined();
    return answer.data!;
  }

  /** Waits for the page's next GraphQL operation of that name and replays nothing: its variables. */
  function nextOperation(name: string): Promise<Record<string, unknown>> {
    return page
      .waitForRequest(
        (request: Request) => request.url().endsWith('/graphql') && operationName(request) === name,
      )
      .then((request) => JSON.parse(request.postData()!).variables as Record<string, unknown>);
  }

  async function screenshot(name: string): Promise<void> {
    mkdirSync(OUTPUT_DIR, { recursive: true });
    await page.screenshot({ path: join(OUTPUT_DIR, `${name}.png`), fullPage: true });
  }

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'carbonledger-dashboard-'));
    await seedDemoWithOutage(dataDir, FAILED_DAY, NOW);
    const config = parseConfig({
      store: { dataDir },
      server: { port: 0 },
      prometheus: { url: 'http://127.0.0.1:9', attempts: 1 },
      auth: {
        tokens: [
          { name: 'ops', sha256: hashToken(ADMIN_TOKEN).toString('hex'), role: 'admin' },
          { name: 'isis', sha256: hashToken(IDAAAS_TOKEN).toString('hex'), projects: ['IDAaaS'] },
        ],
      },
    });
    service = await startService({ config, log: silentLogger, schedule: false, demo: true });
    origin = new URL(service.url).origin;
    browser = await launchChromium();
    const offline = await offlineContext(browser, {
      viewport: { width: 1280, height: 900 },
      acceptDownloads: true,
    });
    ({ context, offMachine } = offline);
    page = await context.newPage();
    page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
    page.on('console', (message) => {
      if (message.type() !== 'error') return;
      if (expectingUnauthenticated && message.text().includes('status of 401')) return;
      problems.push(`console error: ${message.text()}`);
    });
    // A year of demo data, and installing Chromium on a fresh machine, take minutes.
  }, 10 * 60_000);

  afterAll(async () => {
    await browser?.close();
    await service?.close();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  it('asks for a token, says when one is refused, and keeps a good one for the session only', async () => {
    expectingUnauthenticated = true;
    await page.goto(`${origin}/`);
    await page.locator('[data-needs-token]').waitFor();
    await page.getByLabel('Access token').fill('not-a-token');
    await page.getByRole('button', { name: 'Use token' }).click();
    await page.getByText('The service did not accept this token').waitFor();
    await screenshot('token-refused');

    const series = nextOperation('DashboardSeries');
    await page.getByLabel('Access token').fill(ADMIN_TOKEN);
    await page.getByRole('button', { name: 'Use token' }).click();
    await series;
    await page.locator('[data-total="totalKwh"]').waitFor();
    expectingUnauthenticated = false;
    expect(await page.evaluate(() => sessionStorage.getItem('carbonledger.token'))).toBe(ADMIN_TOKEN);
    expect(await page.evaluate(() => localStorage.length)).toBe(0);
    expect(page.url()).not.toContain(ADMIN_TOKEN);
  });

  it('shows a project’s energy and carbon over time with the API’s totals and buckets', async () => {
    const series = nextOperation('DashboardSeries');
    await page.goto(`${origin}/#level=PROJECT&key=IDAaaS&range=30d`);
    const variables = await series;
    shownVariables = variables;
    expect(variables).toMatchObject({ level: 'PROJECT', key: 'IDAaaS', granularity: 'DAY' });
    const { usageSeries } = await api<{
      usageSeries: { total: { totalKwh: number; totalGco2eq: number }; columns: { start: string[] } };
    }>(
      `query ($level: UsageLevel!, $key: String!, $from: DateTime!, $to: DateTime!, $granularity: Granularity!) {
        usageSeries(level: $level, key: $key, from: $from, to: $to, granularity: $granularity) {
          total { totalKwh totalGco2eq } columns { start } } }`,
      variables,
    );
    for (const field of ['totalKwh', 'totalGco2eq'] as const) {
      const shown = page.locator(`[data-total="${field}"]`);
      await expect(shown.getAttribute('data-value')).resolves.toBe(String(usageSeries.total[field]));
      await expect(shown.textContent()).resolves.toContain(formatFigure(usageSeries.total[field]));
    }
    expect(usageSeries.total.totalKwh).toBeGreaterThan(0);
    const charts = page.locator('[data-view="usage"] .chart');
    await expect(charts.count()).resolves.toBe(2);
    await page.waitForFunction(
      (points) =>
        Array.from(document.querySelectorAll<HTMLElement>('.chart')).every(
          (c) => c.dataset.points === points,
        ),
      String(usageSeries.columns.start.length),
    );
    await page.locator('[data-view="heatmap"] canvas').waitFor();
    await screenshot('project-30-days');
  });

  it('shows the FAILED day as failed: listed, counted, a gap in the CSV and red in the heatmap, never zero', async () => {
    const failed = page.locator('[data-failed-buckets]');
    await expect(failed.getAttribute('data-failed-buckets')).resolves.toBe(FAILED_DAY_ISO);
    await expect(failed.textContent()).resolves.toContain(FAILED_DAY_ISO.slice(0, 10));
    await expect(page.locator('[data-total="failedHours"]').getAttribute('data-value')).resolves.toBe('24');

    const [download] = await Promise.all([
      page.waitForEvent('download'),
      page.getByRole('button', { name: 'Download CSV' }).click(),
    ]);
    const csv = readFileSync((await download.path())!, 'utf8')
      .trim()
      .split('\r\n');
    const parts = ['busy', 'idle', 'memory', 'storage', 'network'];
    const header = [
      'start',
      'status',
      'failed_hours',
      ...parts.map((p) => `${p}_kwh`),
      ...parts.map((p) => `${p}_gco2eq`),
    ];
    expect(csv[0]).toBe(header.join(','));
    expect(csv).toContain(`${FAILED_DAY_ISO},FAILED,24${','.repeat(2 * parts.length)}`);
    expect(csv.filter((row) => row.includes(',OK,0,')).length).toBeGreaterThan(20);

    // The resource columns are the API's own figures, bucket by bucket; a FAILED bucket has none.
    const { usageSeries } = await api<{
      usageSeries: {
        buckets: Array<{ start: string; resources: Record<string, number> | null }>;
      };
    }>(
      `query ($level: UsageLevel!, $key: String!, $from: DateTime!, $to: DateTime!, $granularity: Granularity!) {
        usageSeries(level: $level, key: $key, from: $from, to: $to, granularity: $granularity) {
          buckets { start resources { memoryKwh storageKwh networkKwh memoryGco2eq storageGco2eq networkGco2eq } } } }`,
      shownVariables,
    );
    const rowsByStart = new Map(csv.slice(1).map((row) => [row.split(',')[0], row.split(',')] as const));
    const column = (name: string) => header.indexOf(name);
    let resourceDays = 0;
    for (const bucket of usageSeries.buckets) {
      const row = rowsByStart.get(bucket.start)!;
      expect(row).toBeDefined();
      for (const field of ['memory', 'storage', 'network']) {
        const kwh = row[column(`${field}_kwh`)];
        const gco2eq = row[column(`${field}_gco2eq`)];
        if (bucket.resources === null) {
          expect([kwh, gco2eq]).toEqual(['', '']);
        } else {
          expect(Number(kwh)).toBe(bucket.resources[`${field}Kwh`]);
          expect(Number(gco2eq)).toBe(bucket.resources[`${field}Gco2eq`]);
        }
      }
      if (bucket.resources !== null && bucket.resources.memoryKwh > 0) resourceDays += 1;
    }
    expect(resourceDays).toBeGreaterThan(20);

    // From the keyboard: the map starts at the newest hour; each ArrowLeft is a day back.
    const heatmap = page.locator('[data-view="heatmap"] canvas');
    await heatmap.focus();
    const daysBack = Math.round((Math.floor(NOW / DAY_MS) * DAY_MS - FAILED_DAY) / DAY_MS);
    for (let i = 0; i < daysBack; i++) await page.keyboard.press('ArrowLeft');
    await expect(page.locator('.heatmap-readout').textContent()).resolves.toMatch(
      new RegExp(`^${FAILED_DAY_ISO.slice(0, 10)} \\d\\d:00 UTC: failed`),
    );
  });

  it('splits the range by machine type and ranks the level’s keys as the API does', async () => {
    const variables = await new Promise<Record<string, unknown>>((resolve) => {
      void nextOperation('DashboardTopKeys').then(resolve);
      void page.goto(`${origin}/#level=PROJECT&key=Diamond&range=90d`);
    });
    await page.locator('[data-view="top-keys"] tbody tr').first().waitFor();
    const { usageSeriesMany } = await api<{
      usageSeriesMany: Array<{ key: string; total: { totalKwh: number; totalGco2eq: number } }>;
    }>(
      `query ($level: UsageLevel!, $keys: [String!]!, $from: DateTime!, $to: DateTime!, $granularity: Granularity!) {
        usageSeriesMany(level: $level, keys: $keys, from: $from, to: $to, granularity: $granularity) {
          key total { totalKwh totalGco2eq } } }`,
      variables,
    );
    const ranked = [...usageSeriesMany].sort((a, b) => b.total.totalKwh - a.total.totalKwh);
    const rows = page.locator('[data-view="top-keys"] tbody tr');
    await expect(rows.locator('th').allTextContents()).resolves.toEqual(ranked.map((series) => series.key));
    await expect(
      rows.locator('td[data-value]').evaluateAll((cells) => cells.map((c) => c.getAttribute('data-value'))),
    ).resolves.toEqual(
      ranked.flatMap((series) => [String(series.total.totalKwh), String(series.total.totalGco2eq)]),
    );

    const { usageSeries } = await api<{
      usageSeries: {
        buckets: Array<{ byMachine: Array<{ machineName: string; usage: { totalKwh: number } }> }>;
      };
    }>(
      `query ($from: DateTime!, $to: DateTime!) {
        usageSeries(level: PROJECT, key: "Diamond", from: $from, to: $to, granularity: YEAR) {
          buckets { byMachine { machineName usage { totalKwh } } } } }`,
      { from: variables.from, to: variables.to },
    );
    const byMachine = new Map<string, number>();
    for (const bucket of usageSeries.buckets) {
      for (const { machineName, usage } of bucket.byMachine) {
        byMachine.set(machineName, (byMachine.get(machineName) ?? 0) + usage.totalKwh);
      }
    }
    const machineRows = page.locator('[data-view="machines"] tbody tr');
    await machineRows.first().waitFor();
    const shown = await machineRows.evaluateAll((trs) =>
      trs.map((tr) => [
        tr.querySelector('th')!.textContent,
        Number(tr.querySelector('td')!.getAttribute('data-value')),
      ]),
    );
    expect(new Map(shown as Array<[string, number]>)).toEqual(byMachine);
    expect(byMachine.size).toBeGreaterThan(1);

    // A key in the ranking opens its own series.
    await rows.getByRole('button', { name: 'CLF' }).click();
    await expect(page.locator('#key').inputValue()).resolves.toBe('CLF');
    expect(page.url()).toContain('key=CLF');
  });

  it('says the active workspaces are unknown when Prometheus has never been polled', async () => {
    const notice = page.locator('[data-view="workspaces"] [data-stale]');
    await notice.waitFor();
    await expect(notice.textContent()).resolves.toContain('has not been polled successfully');
  });

  it('lists the project’s instances over the range with the API’s hosts and figures', async () => {
    const asked = nextOperation('DashboardInstances');
    await page.goto(`${origin}/#level=PROJECT&key=Diamond&range=30d`);
    const variables = await asked;
    expect(variables).toMatchObject({ project: 'Diamond' });
    const { instances } = await api<{
      instances: Array<{ instance: string; hosts: Array<{ host: string }>; usage: { totalKwh: number } }>;
    }>(
      `query ($project: String, $from: DateTime!, $to: DateTime!) {
        instances(project: $project, from: $from, to: $to) { instance hosts { host } usage { totalKwh } } }`,
      variables,
    );
    expect(instances.length).toBeGreaterThan(0);
    const rows = page.locator('[data-view="instances"] tbody tr');
    await rows.first().waitFor();
    const ranked = [...instances].sort((a, b) => b.usage.totalKwh - a.usage.totalKwh).slice(0, 100);
    await expect(rows.locator('th').allTextContents()).resolves.toEqual(ranked.map((r) => r.instance));
    const first = rows.first();
    await expect(first.locator('td').nth(5).textContent()).resolves.toContain(ranked[0]!.hosts[0]!.host);
    await expect(first.locator('td[data-value]').first().getAttribute('data-value')).resolves.toBe(
      String(ranked[0]!.usage.totalKwh),
    );
    await screenshot('project-instances');
  });

  it('shows a user’s daily summaries as the API answers them, newest first', async () => {
    const asked = nextOperation('DashboardSummaries');
    await page.goto(`${origin}/#level=USER&key=alice&range=30d`);
    const variables = await asked;
    expect(variables).toMatchObject({ user: 'alice' });
    const { dailySummaries } = await api<{
      dailySummaries: Array<{ date: string; complete: boolean; usage: { totalKwh: number } }>;
    }>(
      `query ($user: String!, $from: DateTime!, $to: DateTime!) {
        dailySummaries(user: $user, from: $from, to: $to) { date complete usage { totalKwh } } }`,
      variables,
    );
    expect(dailySummaries.length).toBeGreaterThan(20);
    const newestFirst = [...dailySummaries].sort((a, b) => b.date.localeCompare(a.date));
    const rows = page.locator('[data-view="summaries"] tbody tr');
    await rows.first().waitFor();
    await expect(rows.evaluateAll((trs) => trs.map((tr) => tr.getAttribute('data-date')))).resolves.toEqual(
      newestFirst.slice(0, 31).map((day) => day.date),
    );
    await expect(rows.first().locator('td[data-value]').getAttribute('data-value')).resolves.toBe(
      String(newestFirst[0]!.usage.totalKwh),
    );
    // The day Prometheus was down is summarised as incomplete.
    const outage = newestFirst.find((day) => day.date === FAILED_DAY_ISO);
    expect(outage?.complete).toBe(false);
    await expect(
      page.locator(`[data-view="summaries"] tr[data-date="${FAILED_DAY_ISO}"] td`).last().textContent(),
    ).resolves.toContain('no');
    await screenshot('user-summaries');
  });

  it('draws a year of hours for one user', async () => {
    await page.goto(`${origin}/#level=USER&key=alice&range=365d&granularity=HOUR`);
    await page.waitForFunction(() =>
      Array.from(document.querySelectorAll<HTMLElement>('.chart')).some(
        (chart) => Number(chart.dataset.points) > 8000,
      ),
    );
    await expect(page.locator('[data-view="heatmap"] canvas').getAttribute('aria-label')).resolves.toContain(
      'over 365 days',
    );
    await screenshot('user-year-of-hours');
  });

  it('at 800 px wide fits without sideways scrolling, and axe finds no serious or critical violation', async () => {
    await page.setViewportSize({ width: 800, height: 900 });
    await page.goto(`${origin}/#level=PROJECT&key=IDAaaS&range=30d`);
    await page.locator('[data-view="top-keys"] tbody tr').first().waitFor();
    await page.locator('[data-view="machines"] tbody tr').first().waitFor();
    await expect(page.evaluate(() => document.documentElement.scrollWidth)).resolves.toBeLessThanOrEqual(800);
    await screenshot('project-800px');

    // Evaluated through the DevTools protocol, which the page's Content-Security-Policy does not govern.
    await page.evaluate(readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8'));
    const violations = await page.evaluate(async () => {
      const axe = (
        window as unknown as {
          axe: { run(): Promise<{ violations: Array<{ id: string; impact: string; nodes: unknown[] }> }> };
        }
      ).axe;
      const results = await axe.run();
      return results.violations.map(({ id, impact, nodes }) => ({ id, impact, nodes: nodes.length }));
    });
    expect(violations.filter((v) => v.impact === 'serious' || v.impact === 'critical')).toEqual([]);
    await page.setViewportSize({ width: 1280, height: 900 });
  });

  it('with a project-scoped token, shows that project only and says FORBIDDEN where the token may not read', async () => {
    // Without a token, the page's queries are answered 401 until the new one is in.
    expectingUnauthenticated = true;
    await page.getByRole('button', { name: 'Forget token' }).click();
    await page.locator('[data-needs-token]').waitFor();
    await page.getByLabel('Access token').fill(IDAAAS_TOKEN);
    await page.getByRole('button', { name: 'Use token' }).click();
    await page.goto(`${origin}/#level=PROJECT&range=30d`);
    await page.locator('[data-total="totalKwh"]').waitFor();
    expectingUnauthenticated = false;
    await expect(page.locator('#key option').allTextContents()).resolves.toEqual(['IDAaaS']);
    await expect(page.locator('[data-view="top-keys"] tbody th').allTextContents()).resolves.toEqual([
      'IDAaaS',
    ]);

    await page.goto(`${origin}/#level=MACHINE&key=GPU_LARGE&range=30d`);
    const forbidden = page.locator('[data-view="usage"] [data-problem="forbidden"]');
    await forbidden.waitFor();
    await expect(forbidden.textContent()).resolves.toContain('Not allowed for this token');
    await screenshot('scoped-token-forbidden');
  });

  it('loaded nothing from off this machine and logged no errors', () => {
    expect([...offMachine]).toEqual([]);
    expect(problems).toEqual([]);
  });
});

function operationName(request: Request): string | undefined {
  try {
    return (JSON.parse(request.postData() ?? '{}') as { operationName?: string }).operationName;
  } catch {
    return undefined;
  }
}
