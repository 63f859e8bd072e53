import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** The attributes PERSEUS matches a usage report on (seed 001). */
const MATCH = ['compute_project_id', 'resource_id', 'start', 'end', 'user', 'partition', 'priority'] as const;

const isText = (value: unknown) => typeof value === 'string' && value !== '';
const isNumber = (value: unknown) => typeof value === 'number' && Number.isFinite(value);
const isIsoTime = (value: unknown) => isText(value) && !Number.isNaN(Date.parse(value as string));

/**
 * What is wrong with a body by the seed's attribute table (PERSEUS answers 422 for it), or null:
 * the required attributes present and typed, the optional ones typed when given.
 */
export function bodyProblem(body: Record<string, unknown>, projectOid: string): string | null {
  if (body.project_oid !== projectOid) return 'project_oid: not the project of the path';
  for (const name of ['compute_project_id', 'resource_id'] as const)
    if (!isText(body[name])) return `${name}: a string is required`;
  for (const name of ['start', 'end'] as const)
    if (!isIsoTime(body[name])) return `${name}: an ISO datetime is required`;
  if (!isNumber(body.value)) return 'value: a number is required';
  if (body.contingent_factor !== undefined && !isNumber(body.contingent_factor))
    return 'contingent_factor: a number';
  for (const name of ['user', 'partition', 'priority'] as const)
    if (body[name] !== undefined && !isText(body[name])) return `${name}: a string`;
  const metrics = body.additional_metrics ?? [];
  if (!Array.isArray(metrics)) return 'additional_metrics: a list';
  for (const metric of metrics as Array<Record<string, unknown>>) {
    if (!isText(metric.metric_id) || !isNumber(metric.value))
      return 'additional_metrics: metric_id and value';
    if (metric.contingent_factor !== undefined && !isNumber(metric.contingent_factor))
      return 'additional_metrics: contingent_factor';
  }
  const data = body.additional_data ?? {};
  if (typeof data !== 'object' || data === null || Array.isArray(data)) return 'additional_data: a dict';
  return null;
}

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
  /**
   * Requests to take (the entry is kept) and then leave unanswered until close: a PERSEUS that
   * applied a report but answered too late for the client.
   */
  takeButStall: number;
  close(): Promise<void>;
}

/**
 * A stand-in for PERSEUS's `/service/UsageReporting/{project_oid}`: checks the bearer token (401
 * otherwise) and the body's attributes (422 otherwise), and keeps one entry per match key (project_oid plus the seed's attributes), overwriting
 * an entry that matches rather than adding one.
 */
export async function startFakePerseus(token: string): Promise<FakePerseus> {
  const fake: Omit<FakePerseus, 'url' | 'close'> = {
    entries: [],
    requests: [],
    failNext: [],
    tokens: new Set([token]),
    takeButStall: 0,
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
      const problem = bodyProblem(body, projectOid);
      if (problem !== null) return answer(422, { detail: problem });
      const same = (entry: StoredReport) =>
        entry.projectOid === projectOid &&
        MATCH.every((name) => (entry.body[name] ?? null) === (body[name] ?? null));
      const at = fake.entries.findIndex(same);
      if (at >= 0) fake.entries[at] = { projectOid, body };
      else fake.entries.push({ projectOid, body });
      if (fake.takeButStall > 0) {
        fake.takeButStall--;
        return;
      }
      answer(at >= 0 ? 200 : 201, { ok: true });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return Object.assign(fake, {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  });
}
