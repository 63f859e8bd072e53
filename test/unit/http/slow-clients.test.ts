import { once } from 'node:events';
import { connect, type Socket } from 'node:net';

import { startTestServer, type TestServer } from '../../support/http';

/** A client that sends part of a request and then nothing: it must not hold its connection for long. */
describe('slow clients', () => {
  let server: TestServer;
  let port: number;

  beforeAll(async () => {
    server = await startTestServer({ requestTimeoutMs: 300 });
    port = server.port;
  });
  afterAll(async () => {
    await server.close();
  });

  /** Everything the server sends until it closes the connection. */
  async function answerTo(partial: string): Promise<string> {
    const socket: Socket = connect(port, '127.0.0.1');
    await once(socket, 'connect');
    socket.write(partial);
    let text = '';
    socket.on('data', (chunk: Buffer) => (text += chunk.toString()));
    await once(socket, 'close');
    return text;
  }

  it('answers 408 and closes the connection of a body that stops half-way', async () => {
    const body = '{"query":"{ usageKeys(level: PROJECT) }"}';
    const answer = await answerTo(
      `POST /graphql HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body.slice(0, 10)}`,
    );
    expect(answer).toMatch(/^HTTP\/1\.1 408 /);
  });

  it('answers 408 to headers that never end', async () => {
    const answer = await answerTo('GET /healthz HTTP/1.1\r\nHost: x\r\n');
    expect(answer).toMatch(/^HTTP\/1\.1 408 /);
  });

  it('keeps serving everyone else', async () => {
    const res = await fetch(`http://127.0.0.1:${port}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query: '{ usageKeys(level: PROJECT) }' }),
    });
    expect(await res.json()).toEqual({ data: { usageKeys: ['IDAaaS', 'ISIS'] } });
  });
});
