import { graphql, type GraphQLSchema } from 'graphql';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Principal } from '../../src/auth/principal';
import { parseConfig, type Config } from '../../src/config';
import { fixedClock } from '../../src/domain/clock';
import { summaryMinutes } from '../../src/domain/summaries';
import { DAY_MS, HOUR_MS } from '../../src/domain/time';
import { ingestRange } from '../../src/ingest/run';
import { silentLogger } from '../../src/log';
import { PluginHost } from '../../src/plugins/host';
import { registerSummaries, summariseDate, SUMMARY_EMAILS_PLUGIN } from '../../src/plugins/summaries';
import { summaryMessageId } from '../../src/plugins/summaries/email';
import { buildAppSchema, createRequestContext } from '../../src/app-schema';
import { summaryStoresFor, type SummaryStores } from '../../src/store/capabilities';
import { openStore, type OpenedStore } from '../../src/store/open';
import { runCli } from '../support/cli';
import { directIngestDeps, tempDirs } from '../support/fake-ingest';
import { createTestDatabase, type TestDatabase } from '../support/postgres';
import { startSmtpServer, type TestSmtpServer } from '../support/smtp-server';
import { summaryFleet } from '../support/summary-fleet';

/**
 * Summary emails (contract section 11) end to end against a real SMTP server, on both stores: the
 * listed users get one message each with their figures; a run with the server down is made good
 * by the next run, once; two processes sending at once send each message once.
 */

const DAY1 = Date.parse('2025-03-10T00:00:00Z');
const DAYS = ['2025-03-10', '2025-03-11', '2025-03-12', '2025-03-13', '2025-03-14'];
/** 03:00 of the day after `date`: the email job's tick that sends `date`. */
const tickFor = (date: string) => Date.parse(`${date}T00:00:00Z`) + DAY_MS + 3 * HOUR_MS;
const ADDRESSES = { alice: 'alice@example.org', bob: 'bob@example.org', dave: 'dave@example.org' };

const dirs = tempDirs('cl-summary-emails-');
let schema: GraphQLSchema;
let smtp: TestSmtpServer;
beforeAll(async () => {
  schema = await buildAppSchema();
  smtp = await startSmtpServer();
});
afterAll(async () => {
  await smtp.stop();
  dirs.cleanup();
});

describe.each(['json', 'postgres'] as const)('summary emails on the %s store', (kind) => {
  let database: TestDatabase | undefined;
  let config: Config;
  let configFile: string;
  let store: OpenedStore;
  let stores: SummaryStores;

  beforeAll(async () => {
    smtp.received.length = 0;
    const dir = dirs.make();
    database = kind === 'postgres' ? await createTestDatabase() : undefined;
    const raw = {
      store:
        kind === 'postgres'
          ? { kind, url: database!.url, dataDir: join(dir, 'local') }
          : { kind, dataDir: join(dir, 'data') },
      summaries: {
        email: {
          smtp: smtp.url,
          from: 'carbonledger@example.org',
          users: ADDRESSES,
          dashboardUrl: 'https://ledger.example.org/',
          timeoutMs: 5000,
        },
      },
    };
    config = parseConfig(raw);
    configFile = join(dir, 'config.json');
    writeFileSync(configFile, JSON.stringify(raw));
    store = await openStore(config.store, silentLogger);
    stores = summaryStoresFor(store, config.store);
    const labels = { ...config.prometheus.labels, user: 'user' };
    await ingestRange(
      directIngestDeps(store, summaryFleet(DAY1), { labels, stepHours: 24 }),
      DAY1,
      DAY1 + 8 * DAY_MS,
    );
    for (const date of DAYS) await summariseDate(store, stores.summaries, date);
  });

  afterAll(async () => {
    await store.close();
    await database?.drop();
  });

  async function mutate(principal: Principal, address: string | null) {
    return graphql({
      schema,
      source: 'mutation ($address: String) { setSummaryEmail(address: $address) { user address } }',
      variableValues: { address },
      contextValue: createRequestContext({
        store,
        clock: fixedClock(DAY1),
        log: silentLogger,
        principal,
        summaries: stores,
      }),
    });
  }

  /** One replica: its own store handle, summary stores and host, ticked by hand at `now`. */
  async function emailRun(now: number) {
    const replica = await openStore(config.store, silentLogger);
    try {
      const host = new PluginHost({ store: replica, clock: fixedClock(now), log: silentLogger });
      registerSummaries(host, config, summaryStoresFor(replica, config.store));
      return await host.runNow(SUMMARY_EMAILS_PLUGIN);
    } finally {
      await replica.close();
    }
  }

  const mailsOf = (date: string) => smtp.received.filter((mail) => mail.subject.includes(` ${date}:`));

  it('lets a user list themself with a token of their own, and no other token', async () => {
    const carol: Principal = {
      kind: 'scoped',
      name: 'carol',
      projects: new Set(),
      users: new Set(['carol']),
    };
    expect((await mutate(carol, 'carol@example.org')).data).toEqual({
      setSummaryEmail: { user: 'carol', address: 'carol@example.org' },
    });
    const bad = await mutate(carol, 'carol@example.org, eve@example.org');
    expect(bad.errors?.[0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', argument: 'address' });
    expect(bad.errors?.[0].message).toContain('"address"');
    const admin: Principal = { kind: 'admin', name: 'ops' };
    const project: Principal = { kind: 'scoped', name: 'p', projects: new Set(['P']), users: new Set() };
    for (const other of [admin, project]) {
      expect((await mutate(other, 'x@example.org')).errors?.[0].extensions).toMatchObject({
        code: 'FORBIDDEN',
      });
    }
    expect(await stores.subscribers.list()).toEqual(new Map([['carol', 'carol@example.org']]));
  });

  it("sends each listed user with usage yesterday's summary once, with its figures and a dashboard link", async () => {
    expect(await emailRun(tickFor('2025-03-11'))).toMatchObject({ outcome: 'ok' });
    const mails = mailsOf('2025-03-11');
    expect(mails.map((mail) => mail.to).sort()).toEqual([
      ['alice@example.org'],
      ['bob@example.org'],
      ['carol@example.org'],
    ]);
    for (const mail of mails) {
      const user = mail.to[0].split('@')[0];
      const [summary] = await stores.summaries.read(user, '2025-03-11', '2025-03-12');
      const minutes = summaryMinutes(summary.figures);
      const vm = Number(/VM minutes:\s+([\d,.]+)/.exec(mail.text)![1].replace(/,/g, ''));
      const ram = Number(/RAM GB-minutes:\s+([\d,.]+)/.exec(mail.text)![1].replace(/,/g, ''));
      expect(vm).toBeCloseTo(minutes.vmMinutes, 1);
      expect(ram).toBeCloseTo(minutes.ramGbMinutes, 1);
      expect(minutes.vmMinutes).toBeGreaterThan(0);
      const link = `https://ledger.example.org/#level=USER&key=${user}&range=custom&from=2025-03-11&to=2025-03-11&granularity=HOUR`;
      expect(mail.text).toContain(link);
      expect(mail.html).toContain(`href="${link.replace(/&/g, '&#38;')}"`);
      expect(mail.html).toContain('VM minutes');
      expect(mail.from).toBe('carbonledger@example.org');
      // One identity per user and day, whoever sends it and however often: what mail systems dedupe on.
      expect(mail.messageId).toBe(summaryMessageId(user, '2025-03-11', 'carbonledger@example.org'));
      expect(mail.messageId).toMatch(/^<carbonledger-summary\.2025-03-11\.[0-9a-f]+@example\.org>$/);
    }
    expect(new Set(mails.map((mail) => mail.messageId)).size).toBe(3);
    // Another run of the same tick sends nothing more.
    expect(await emailRun(tickFor('2025-03-11'))).toMatchObject({
      outcome: 'ok',
      report: { detail: { sent: 0 } },
    });
    expect(mailsOf('2025-03-11')).toHaveLength(3);
  });

  it('makes good a run with the server down at the next run, each missed message once', async () => {
    await smtp.stop();
    try {
      expect(await emailRun(tickFor('2025-03-12'))).toMatchObject({ outcome: 'failed' });
    } finally {
      await smtp.start();
    }
    expect(await stores.emails.status('alice', '2025-03-12')).toMatchObject({ state: 'failed', attempts: 1 });
    expect(mailsOf('2025-03-12')).toEqual([]);
    expect(await emailRun(tickFor('2025-03-13'))).toMatchObject({
      outcome: 'ok',
      report: { detail: { days: ['2025-03-12', '2025-03-13'], sent: 6 } },
    });
    expect(await emailRun(tickFor('2025-03-13'))).toMatchObject({ report: { detail: { sent: 0 } } });
    for (const date of ['2025-03-12', '2025-03-13']) {
      expect(
        mailsOf(date)
          .map((mail) => mail.to[0])
          .sort(),
      ).toEqual(['alice@example.org', 'bob@example.org', 'carol@example.org']);
    }
    expect(await stores.emails.status('alice', '2025-03-12')).toMatchObject({ state: 'sent', attempts: 2 });
  });

  it('sends once when two processes run the job at the same time, and `summarize --send` after them sends nothing', async () => {
    const runs = await Promise.all([emailRun(tickFor('2025-03-14')), emailRun(tickFor('2025-03-14'))]);
    expect(runs.map((run) => run.outcome)).toEqual(['ok', 'ok']);
    const sent = runs.map((run) => (run.outcome === 'ok' ? Number(run.report.detail?.sent) : NaN));
    expect(sent[0] + sent[1]).toBe(3);
    expect(
      mailsOf('2025-03-14')
        .map((mail) => mail.to[0])
        .sort(),
    ).toEqual(['alice@example.org', 'bob@example.org', 'carol@example.org']);
    const cli = await runCli(['summarize', '--date', '2025-03-14', '--send', '--config', configFile]);
    expect(cli.code).toBe(0);
    expect(cli.stdout).toContain('0 sent, 3 sent before, 1 with no usage, 0 not sent');
    expect(mailsOf('2025-03-14')).toHaveLength(3);
  });

  it('lets one of many simultaneous claims on a user and day win, and none while it holds', async () => {
    const claims = await Promise.all(
      Array.from({ length: 8 }, (_, i) => stores.emails.claim('zoe', '2025-03-09', `holder-${i}`, 60_000)),
    );
    expect(claims.filter((claim) => claim !== null)).toEqual([
      { user: 'zoe', date: '2025-03-09', attempt: 1 },
    ]);
    const won = claims.find((claim) => claim !== null)!;
    await stores.emails.markFailed(won, 'refused');
    const again = await Promise.all(
      [0, 1, 2].map(() => stores.emails.claim('zoe', '2025-03-09', 'later', 60_000)),
    );
    expect(again.filter((claim) => claim !== null)).toEqual([
      { user: 'zoe', date: '2025-03-09', attempt: 2 },
    ]);
    await stores.emails.markSent(
      again.find((claim) => claim !== null)!,
      'zoe@example.org',
    );
    expect(await stores.emails.claim('zoe', '2025-03-09', 'late', 60_000)).toBeNull();
  });

  it('`summarize --send` exits 3 while the server is down, and sends the day once it is up', async () => {
    await smtp.stop();
    let down;
    try {
      down = await runCli(['summarize', '--date', '2025-03-10', '--send', '--config', configFile]);
    } finally {
      await smtp.start();
    }
    expect(down.code).toBe(3);
    const up = await runCli(['summarize', '--date', '2025-03-10', '--send', '--config', configFile]);
    expect({ code: up.code, stdout: up.stdout }).toMatchObject({
      code: 0,
      stdout: expect.stringContaining('2 sent'),
    });
    // carol had no usage on the first day, dave on any.
    expect(
      mailsOf('2025-03-10')
        .map((mail) => mail.to[0])
        .sort(),
    ).toEqual(['alice@example.org', 'bob@example.org']);
  });

  it('summarises yesterday first when the summaries job never ran for it', async () => {
    expect(await stores.summaries.isSummarised('2025-03-15')).toBe(false);
    expect(await emailRun(tickFor('2025-03-15'))).toMatchObject({
      outcome: 'ok',
      report: { detail: { sent: 3 } },
    });
    expect(await stores.summaries.isSummarised('2025-03-15')).toBe(true);
    expect(mailsOf('2025-03-15')).toHaveLength(3);
  });

  it('stops a user the config lists once they set no address themselves, and resumes when they set one', async () => {
    const bob: Principal = { kind: 'scoped', name: 'bob', projects: new Set(), users: new Set(['bob']) };
    expect((await mutate(bob, null)).data).toEqual({ setSummaryEmail: { user: 'bob', address: null } });
    expect((await stores.subscribers.list()).get('bob')).toBeNull();
    expect(await emailRun(tickFor('2025-03-16'))).toMatchObject({ outcome: 'ok' });
    expect(
      mailsOf('2025-03-16')
        .map((mail) => mail.to[0])
        .sort(),
    ).toEqual(['alice@example.org', 'carol@example.org']);

    expect((await mutate(bob, 'bob@elsewhere.example.org')).data).toEqual({
      setSummaryEmail: { user: 'bob', address: 'bob@elsewhere.example.org' },
    });
    expect(await emailRun(tickFor('2025-03-17'))).toMatchObject({ outcome: 'ok' });
    expect(
      mailsOf('2025-03-17')
        .map((mail) => mail.to[0])
        .sort(),
    ).toEqual(['alice@example.org', 'bob@elsewhere.example.org', 'carol@example.org']);
  });
});
