import { getOperationAST, parse } from 'graphql';
import { connect, type Socket } from 'node:net';

import { AnswerBudget } from '../../../src/http/answer-budget';
import { measureOperation } from '../../../src/http/operation-limits';
import type { Store } from '../../../src/store/store';
import { startTestServer, testAppSchema, usageFixture, type TestServer } from '../../support/http';

const JSON_HEADERS = { 'content-type': 'application/json' };

/** A year of hours of both projects, every bucket field: megabytes of JSON. */
const HEAVY = `{ usageSeriesMany(level: PROJECT, keys: ["IDAaaS", "ISIS"], from: "2025-01-01T00:00:00Z",
  to: "2026-01-01T00:00:00Z", granularity: HOUR) { id buckets { id start end countedFrom countedTo status failedHours
  usage { busyKwh idleKwh totalKwh totalGco2eq } } } }`;
const LIGHT = '{ usageKeys(level: PROJECT) }';
/** Four copies of HEAVY under aliases: more than loopback's socket buffers take from a client that reads nothing. */
const HEAVIER = `{ ${[1, 2, 3, 4].map((i) => `a${i}: ${HEAVY.slice(1, -1)}`).join(' ')} }`;

async function costOf(query: string): Promise<number> {
  const schema = await testAppSchema();
  const document = parse(query);
  return measureOperation(schema, document, getOperationAST(document)!, undefined).cost;
}

async function inFlight(server: TestServer): Promise<number> {
  return (await server.metrics.answerCostInFlight.get()).values[0]?.value ?? 0;
}

/** Waits, a turn of the event loop at a time, until `done` holds: no clock decides the outcome. */
async function until(done: () => Promise<boolean> | boolean): Promise<void> {
  while (!(await done())) await new Promise((resolve) => setTimeout(resolve, 10));
}

/** Sends `query` over a raw connection that reads nothing of its answer. */
function sendUnread(server: TestServer, query: string): Socket {
  const body = JSON.stringify({ query });
  const socket = connect(server.port, '127.0.0.1', () => {
    socket.write(
      `POST /graphql HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n` +
        `content-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
    );
  });
  socket.pause();
  socket.on('error', () => undefined);
  return socket;
}

describe('AnswerBudget', () => {
  it('admits what fits, always admits one alone, and takes back what is given', () => {
    const budget = new AnswerBudget(100);
    expect(budget.tryTake(60)).toBe(true);
    expect(budget.tryTake(50)).toBe(false);
    expect(budget.tryTake(40)).toBe(true);
    expect(budget.inFlight).toBe(100);
    budget.give(60);
    budget.give(40);
    expect(budget.tryTake(500)).toBe(true);
    expect(budget.tryTake(1)).toBe(false);
  });
});

describe('heavy answers in flight', () => {
  it('refuses operations past the budget with 503, Retry-After and SERVER_BUSY, and keeps serving', async () => {
    // Reads that wait until the test lets them go: the admitted operations stay in flight.
    const fixture = usageFixture().store;
    let letGo!: () => void;
    const gate = new Promise<void>((resolve) => (letGo = resolve));
    const store: Store = { ...fixture, readDays: async (...args) => (await gate, fixture.readDays(...args)) };
    const cost = await costOf(HEAVY);
    const server = await startTestServer({ store, maxAnswerCostInFlight: Math.floor(cost * 2.5) });
    try {
      const post = (query: string) =>
        fetch(server.url, { method: 'POST', headers: JSON_HEADERS, body: JSON.stringify({ query }) });
      const answers = Array.from({ length: 6 }, () => post(HEAVY));
      const refused: Response[] = [];
      for (const answer of answers) void answer.then((res) => refused.push(res));
      await until(() => refused.length === 4);
      // Two were admitted, and hold their cost while their reads wait.
      expect(await inFlight(server)).toBe(2 * cost);
      for (const res of refused) {
        expect(res.status).toBe(503);
        expect(res.headers.get('retry-after')).toBe('5');
        const body = await res.json();
        expect(body.errors[0].extensions.code).toBe('SERVER_BUSY');
        expect(body.errors[0].message).toContain('try again in 5 s');
      }
      // Probes and small operations still answer beside the heavy ones held.
      expect((await fetch(`${server.origin}/healthz`)).status).toBe(200);
      expect(await (await post(LIGHT)).json()).toEqual({ data: { usageKeys: ['IDAaaS', 'ISIS'] } });
      letGo();
      const answered = await Promise.all(answers);
      expect(answered.map((res) => res.status).sort()).toEqual([200, 200, 503, 503, 503, 503]);
      // An answer holds its cost until the client has taken it.
      for (const res of answered) if (res.status === 200) expect((await res.json()).data).toBeDefined();
      await until(async () => (await inFlight(server)) === 0);
      expect(server.logs.filter((line) => line.level === 'error')).toEqual([]);
    } finally {
      await server.close();
    }
  });

  it('gives the cost back and abandons the reads when a client goes before its answer', async () => {
    const fixture = usageFixture().store;
    let readsStarted = 0;
    // Reads that never answer, and a deadline far away: only the client's going can end the operation.
    const store: Store = {
      ...fixture,
      readDays: () => {
        readsStarted++;
        return new Promise<never>(() => undefined);
      },
    };
    const server = await startTestServer({ store, executionTimeoutMs: 3_600_000 });
    try {
      const socket = sendUnread(server, HEAVY);
      await until(async () => readsStarted > 0 && (await inFlight(server)) > 0);
      socket.destroy();
      await until(async () => (await inFlight(server)) === 0);
      expect(server.logs.filter((line) => line.level === 'error')).toEqual([]);
      expect((await fetch(`${server.origin}/healthz`)).status).toBe(200);
    } finally {
      await server.close();
    }
  });

  it('closes the connection of a client that does not take its answer within sendTimeoutMs', async () => {
    const server = await startTestServer({ sendTimeoutMs: 500 });
    try {
      const socket = sendUnread(server, HEAVIER);
      await until(async () => (await inFlight(server)) > 0);
      await until(async () => (await inFlight(server)) === 0);
      // Read now, what reached the client ends early: the server closed the connection mid-answer.
      let received = '';
      socket.setEncoding('utf8').on('data', (chunk: string) => (received += chunk));
      await new Promise<void>((resolve) => socket.once('close', () => resolve()).resume());
      expect(received).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
      expect(received).not.toMatch(/\r\n0\r\n\r\n$/);
      expect((await fetch(`${server.origin}/healthz`)).status).toBe(200);
    } finally {
      await server.close();
    }
  });

  it('sends a large answer whole, in chunks, to a client that reads it', async () => {
    const server = await startTestServer({ sendTimeoutMs: 60_000 });
    try {
      const res = await fetch(server.url, {
        method: 'POST',
        headers: JSON_HEADERS,
        body: JSON.stringify({ query: HEAVY }),
      });
      const text = await res.text();
      expect(text.length).toBeGreaterThan(1_000_000);
      const body = JSON.parse(text);
      expect(body.data.usageSeriesMany).toHaveLength(2);
      expect(body.data.usageSeriesMany[0].buckets).toHaveLength(8760);
      expect(await inFlight(server)).toBe(0);
    } finally {
      await server.close();
    }
  });
});
