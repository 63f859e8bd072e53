import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseConfig } from '../../src/config';
import { fixedClock } from '../../src/domain/clock';
import { FIGURE_FIELDS, zeroFigures, type Figures } from '../../src/domain/figures';
import { CPU_NAMES } from '../../src/domain/metrics';
import { UNKNOWN } from '../../src/domain/levels';
import { HOUR_MS } from '../../src/domain/time';
import { silentLogger } from '../../src/log';
import { startService, type RunningService } from '../../src/serve';
import { ingestFromLab } from '../support/lab/cli-ingest';
import { expectedByLevel, expectedInstanceHours, type ExpectedInstanceHour } from '../support/lab/expected';
import { startLab, type Lab } from '../support/lab/prometheus-lab';

/**
 * `instances` (contract section 11) over a store `carbonledger ingest` filled from the real
 * Prometheus lab, against the generator's own reading of the fleet (expected.ts): a reboot, a
 * deletion, a host reused by two owners, a mid-day start.
 */

const G_PER_KWH = 300;
const ENERGY = { default: { busyWattsPerCore: 10, idleWattsPerCore: 2 }, machines: {}, pue: 1.1 };
const at = (iso: string): number => Date.parse(iso);
const iso = (ms: number): string => new Date(ms).toISOString();
/** The lab's data ends 2025-09-23T02:00; the first ingestion stops an hour later. */
const FIRST_FROM = at('2025-09-20T00:00:00Z');
const FIRST_TO = at('2025-09-23T03:00:00Z');
/** Then a day and more of hours Prometheus answers with no samples: every VM has gone quiet. */
const QUIET_TO = at('2025-09-24T06:00:00Z');
const TOLERANCE = 0.01;

interface ApiRecord {
  id: string;
  instance: string;
  project: string;
  machineName: string;
  user: string | null;
  experiment: string | null;
  firstSeen: string;
  lastSeen: string;
  ended: boolean;
  hosts: Array<{ host: string; from: string; to: string | null; reason: string | null }>;
  usage: Figures & { totalKwh: number; totalGco2eq: number };
  upHours: number;
  resources: Record<(typeof RESOURCE_CHECKS)[number], number>;
}

/** The resource figures checked against the generator's integrals (contract section 8's bounds). */
const RESOURCE_CHECKS = [
  'upHours',
  'memoryByteHours',
  'diskByteHours',
  'networkReceiveBytes',
  'networkTransmitBytes',
] as const;
const RESOURCE_TOLERANCE = 0.02;

let lab: Lab;
let workDir: string;
let rows: ExpectedInstanceHour[];

async function instances(from: number, to: number, filter: { project?: string; user?: string } = {}) {
  const service: RunningService = await startService({
    config: parseConfig({ store: { kind: 'json', dataDir: join(workDir, 'data') }, server: { port: 0 } }),
    log: silentLogger,
    schedule: false,
    demo: false,
    clock: fixedClock(QUIET_TO),
  });
  try {
    const response = await fetch(service.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        query: `query($project: String, $user: String, $from: DateTime!, $to: DateTime!) {
          instances(project: $project, user: $user, from: $from, to: $to) {
            id instance project machineName user experiment firstSeen lastSeen ended
            hosts { host from to reason }
            usage { busyCpuSeconds idleCpuSeconds busyKwh idleKwh busyGco2eq idleGco2eq totalKwh totalGco2eq }
            upHours resources { ${RESOURCE_CHECKS.join(' ')} }
          }
        }`,
        variables: { ...filter, from: iso(from), to: iso(to) },
      }),
    });
    const answer = (await response.json()) as { data?: { instances: ApiRecord[] }; errors?: unknown };
    expect(answer.errors).toBeUndefined();
    return answer.data!.instances;
  } finally {
    await service.close();
  }
}

/** The generator's lives: its VM-hours grouped as the contract groups them, with the truth of each. */
function expectedLives(from: number, to: number, throughHour: number) {
  const lives = new Map<string, ExpectedInstanceHour[]>();
  for (const row of rows) {
    const identity = JSON.stringify([row.instance, row.project, row.machineName, row.user]);
    lives.set(identity, [...(lives.get(identity) ?? []), row]);
  }
  const energy = parseConfig({ energy: ENERGY }).energy;
  return [...lives.values()]
    .filter((hours) => hours.some((row) => row.hour < to && from < row.hour + HOUR_MS))
    .map((hours) => {
      const first = Math.min(...hours.map((row) => row.hour));
      const last = Math.max(...hours.map((row) => row.hour));
      const { vm, instance, project, machineName, user, experiment, host } = hours.find(
        (r) => r.hour === last,
      )!;
      const record = lab.spec.registry.find(
        (r) => r.hostname === host && r.createdMs <= last && (r.deletedMs === null || last < r.deletedMs),
      );
      const ingestedTo = throughHour + HOUR_MS;
      const ended =
        (record !== undefined && record.deletedMs !== null && record.deletedMs <= ingestedTo) ||
        ingestedTo - (last + HOUR_MS) >= 24 * HOUR_MS;
      const usage: Figures = zeroFigures();
      const byHour = expectedByLevel(hours, energy, G_PER_KWH).INSTANCE.get(instance)!;
      for (const [hour, breakdown] of byHour) {
        if (hour < from || hour >= to) continue;
        for (const field of FIGURE_FIELDS) usage[field] += breakdown.all[field];
      }
      return {
        vm,
        record: {
          instance,
          project,
          machineName,
          // The API says null where the contract's attribution says "unknown".
          user: user === UNKNOWN ? null : user,
          experiment: experiment === UNKNOWN ? null : experiment,
          firstSeen: iso(first),
          lastSeen: iso(last),
          ended,
          hosts: [{ host, from: iso(first), to: ended ? iso(last + HOUR_MS) : null, reason: null }],
        },
        usage,
      };
    })
    .sort(
      (a, b) =>
        (a.record.instance < b.record.instance ? -1 : a.record.instance > b.record.instance ? 1 : 0) ||
        at(a.record.firstSeen) - at(b.record.firstSeen),
    );
}

function expectRecords(actual: ApiRecord[], wanted: ReturnType<typeof expectedLives>) {
  expect(
    actual.map(({ id: _id, usage: _usage, upHours: _up, resources: _resources, ...record }) => record),
  ).toEqual(wanted.map((life) => life.record));
  actual.forEach((record, i) => {
    for (const field of CPU_NAMES) {
      const want = wanted[i].usage[field];
      if (Math.abs(record.usage[field] - want) > Math.abs(want) * TOLERANCE + 1e-9) {
        throw new Error(`${wanted[i].vm} ${field}: got ${record.usage[field]}, expected ${want}`);
      }
    }
    expect(record.upHours).toBe(record.resources.upHours);
    for (const field of RESOURCE_CHECKS) {
      const want = wanted[i].usage[field];
      if (Math.abs(record.resources[field] - want) > Math.abs(want) * RESOURCE_TOLERANCE + 1e-9) {
        throw new Error(`${wanted[i].vm} ${field}: got ${record.resources[field]}, expected ${want}`);
      }
    }
  });
}

beforeAll(async () => {
  lab = await startLab();
  rows = expectedInstanceHours(lab.spec);
  workDir = mkdtempSync(join(tmpdir(), 'cl-instances-lab-'));
  const config = { energy: ENERGY, carbon: { source: 'static', gPerKwh: G_PER_KWH } };
  const first = await ingestFromLab(lab, workDir, FIRST_FROM, FIRST_TO, config);
  if (first.code !== 0) throw new Error(`ingest exited ${first.code}:\n${first.log}`);
});

afterAll(async () => {
  await lab?.stop();
  if (workDir) rmSync(workDir, { recursive: true, force: true });
});

describe('instances over the Prometheus lab', () => {
  const dayOne = at('2025-09-21T00:00:00Z');
  const dayThree = at('2025-09-23T00:00:00Z');
  const throughHour = FIRST_TO - HOUR_MS;

  it('lists every life of the lab days as the generator has it: hours, host, owner, ended, usage', async () => {
    const wanted = expectedLives(dayOne, dayThree, throughHour);
    // The reused host is two records; the deleted VM and the first of the reused host have ended.
    expect(wanted.map((life) => life.vm)).toEqual(
      expect.arrayContaining([
        'reboot',
        'starts-mid-day',
        'deleted-mid-day',
        'reused-first',
        'reused-second',
      ]),
    );
    expect(
      wanted
        .filter((life) => life.record.ended)
        .map((life) => life.vm)
        .sort(),
    ).toEqual(['deleted-mid-day', 'reused-first']);
    expectRecords(await instances(dayOne, dayThree), wanted);
  });

  it('lists only the lives up in a narrower range, with their figures over it', async () => {
    const from = at('2025-09-22T12:00:00Z');
    const to = at('2025-09-22T15:30:00Z');
    const wanted = expectedLives(from, at('2025-09-22T16:00:00Z'), throughHour);
    expect(wanted.map((life) => life.vm)).not.toContain('reused-first');
    expect(wanted.map((life) => life.vm)).toContain('reused-second');
    expectRecords(await instances(from, to), wanted);
  });

  it('filters by project and by user', async () => {
    const byProject = await instances(dayOne, dayThree, { project: 'CLF-Octopus' });
    expect(byProject.map((record) => record.user)).toEqual(['erin', 'frank', 'grace']);
    const byUser = await instances(dayOne, dayThree, { user: 'grace' });
    expect(byUser.map((record) => [record.instance, record.machineName])).toEqual([
      ['172.16.103.32:9100', 'Artemis (Matlab)'],
    ]);
  });

  it('ends every instance once a day has been ingested without its samples, and closes its host period', async () => {
    const quiet = await ingestFromLab(lab, workDir, FIRST_TO, QUIET_TO, {
      energy: ENERGY,
      carbon: { source: 'static', gPerKwh: G_PER_KWH },
    });
    expect(quiet.code).toBe(0);
    const wanted = expectedLives(dayOne, dayThree, QUIET_TO - HOUR_MS);
    expect(wanted.every((life) => life.record.ended)).toBe(true);
    expectRecords(await instances(dayOne, dayThree), wanted);
  });
});
