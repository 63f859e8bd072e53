import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';

import { launchChromium, offlineContext } from '../support/chromium';
import { FIXTURE_DAY, startTestServer, type TestServer } from '../support/http';

const OUTPUT_DIR = join(__dirname, '..', '..', 'test-output');

describe('playground in a real browser', () => {
  let server: TestServer;
  let browser: Browser;
  let page: Page;
  let offMachine: Set<string>;
  const problems: string[] = [];

  beforeAll(async () => {
    server = await startTestServer();
    browser = await launchChromium();
    const offline = await offlineContext(browser, { viewport: { width: 1400, height: 900 } });
    offMachine = offline.offMachine;
    page = await offline.context.newPage();
    page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
    page.on('console', (message) => {
      if (message.type() === 'error') problems.push(`console error: ${message.text()}`);
    });
    // Installing Chromium on a fresh machine takes minutes.
  }, 10 * 60_000);

  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  it('opens at /graphql with an example query that runs', async () => {
    await page.goto(server.url);
    await page.locator('.graphiql-query-editor .monaco-editor').waitFor({ state: 'visible' });
    await expectEditorText(page, '.graphiql-query-editor', 'query LastThirtyDays(');

    await page.locator('.graphiql-execute-button').click();
    await expectEditorText(page, '.graphiql-response', '"usageKeys": [');
    await expectEditorText(page, '.graphiql-response', '"status": "MISSING"');
    expect(await editorText(page, '.graphiql-response')).not.toContain('"errors"');
  });

  it('runs a typed query from the keyboard and shows its JSON result', async () => {
    const queryEditor = page.locator('.graphiql-query-editor .monaco-editor');
    await queryEditor.click();
    await page.keyboard.press('ControlOrMeta+A');
    // insertText, not type(): Monaco would add its own closing brackets to typed ones.
    await page.keyboard.insertText(
      `query OneDay { usageSeries(level: PROJECT, key: "IDAaaS", from: "${FIXTURE_DAY}T00:00:00Z", ` +
        `to: "${FIXTURE_DAY}T12:00:00Z", granularity: HOUR) { key total { busyKwh totalGco2eq } } }`,
    );
    // GraphiQL takes up an edit after a debounce: the tab shows the operation's name once it has.
    await page.locator('.graphiql-tab-active', { hasText: 'OneDay' }).waitFor();
    await page.getByRole('button', { name: /^Prettify query/ }).click();
    await page.waitForFunction(
      () => document.querySelectorAll('.graphiql-query-editor .view-line').length > 5,
    );
    await queryEditor.click();
    await page.keyboard.press('ControlOrMeta+Enter');
    await expectEditorText(page, '.graphiql-response', '"busyKwh": 1.5');

    mkdirSync(OUTPUT_DIR, { recursive: true });
    await page.screenshot({ path: join(OUTPUT_DIR, 'playground.png') });
  });

  it('loaded nothing from off this machine and logged no errors', () => {
    expect([...offMachine]).toEqual([]);
    expect(problems).toEqual([]);
  });
});

async function editorText(page: Page, editor: string): Promise<string> {
  const text = await page.locator(`${editor} .view-lines`).first().textContent();
  return (text ?? '').replace(/\u00a0/g, ' ');
}

/** Monaco renders only the visible lines as text; what these tests look for is near the top. */
async function expectEditorText(page: Page, editor: string, expected: string): Promise<void> {
  await page.waitForFunction(
    ({ selector, text }) =>
      document
        .querySelector(selector)
        ?.textContent?.replace(/\u00a0/g, ' ')
        .includes(text) ?? false,
    { selector: `${editor} .view-lines`, text: expected },
    { timeout: 15_000 },
  );
}
