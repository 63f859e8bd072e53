import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** The attributes PERSEUS matches a usage report on (seed 001). */
const MATCH = ['compute_project_id', 'resource_id', 'start', 'end', 'user', 'partition', 'priority'] as const;

export interface StoredReport {
  projectOid: string;
  body: Record<string, unknown>;
}

export interface FakePerseus {
  url: string;
  /** Entries held, overwritten on a match as PERSEUS does. */
  entries: StoredReport[];
  /** Every request received, with the token it carried. */
  requests: Array<{ path: string; token: string | undefined }>;
  /** Answers to give before answering normally, e.g. [500, 500]. */
  failNext: number[];
  /** Tokens it accepts. */
  tokens: Set<string>;
  close(): Promise<void>;
}

/**
 * A stand-in for PERSEUS's `/service/UsageReporting/{project_oid}`: checks the bearer token (401
 * otherwise), and keeps one entry per match key (project_oid plus the seed's attributes), overwriting
 * an entry that matches rather than adding one.
 */
export async function startFakePerseus(token: string): Promise<FakePerseus> {
  const fake: Omit<FakePerseus, 'url' | 'close'> = {
    entries: [],
    requests: [],
    failNext: [],
    tokens: new Set([token]),
  };
  const server: Server = createServer((req, res) => {
    let text = '';
    req.on('data', (chunk) => (text += chunk));
    req.on('end', () => {
      const match = /^\/service\/UsageReporting\/([^/]+)$/.exec(req.url ?? '');
      const bearer = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1];
      fake.requests.push({ path: req.url ?? '', token: bearer });
      const answer = (status: number, body: unknown) => {
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(JSON.stringify(body));
      };
      const failure = fake.failNext.shift();
      if (failure !== undefined) return answer(failure, { detail: 'failing on purpose' });
      if (req.method !== 'POST' || !match) return answer(404, { detail: 'not found' });
      if (bearer === undefined || !fake.tokens.has(bearer)) return answer(401, { detail: 'invalid token' });
      const body = JSON.parse(text) as Record<string, unknown>;
      const projectOid = decodeURIComponent(match[1]);
      const same = (entry: StoredReport) =>
        entry.projectOid === projectOid &&
        MATCH.every((name) => (entry.body[name] ?? null) === (body[name] ?? null));
      const at = fake.entries.findIndex(same);
      if (at >= 0) fake.entries[at] = { projectOid, body };
      else fake.entries.push({ projectOid, body });
      answer(at >= 0 ? 200 : 201, { ok: true });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return Object.assign(fake, {
    url: `http://127.0.0.1:${port}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  });
}
