import { graphql, type GraphQLSchema } from 'graphql';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Principal } from '../../../src/auth/principal';
import { storeScopeIndex } from '../../../src/auth/scope-index';
import { fixedClock } from '../../../src/domain/clock';
import { silentLogger } from '../../../src/log';
import { buildAppSchema, createRequestContext } from '../../../src/app-schema';
import { openJsonStore, type JsonStore } from '../../../src/store/json';
import { allFigures, at, batch, figures, okHour, apply } from '../../support/describe-store';
import type { HostHistoryStore } from '../../../src/store/host-history';
import { seen } from '../../support/describe-instance-index';

let schema: GraphQLSchema;
let root: string;
let store: JsonStore;

/**
 * One address, two lives on one day: frank's SMALL from 10:00 to 12:00, grace's BIG from 12:00 to
 * 13:00 (a host reused); and an ISIS instance. Each hour of frank's is figures(1), grace's figures(4).
 */
beforeAll(async () => {
  schema = await buildAppSchema();
  root = await mkdtemp(join(tmpdir(), 'cl-instances-'));
  store = await openJsonStore({ dataDir: join(root, 'data') });
  const hours = ['10:00', '11:00', '12:00'];
  await apply(store, {
    ...batch(
      hours.map((hour) => okHour(`2025-09-22T${hour}:00Z`)),
      [
        {
          level: 'INSTANCE',
          key: 'a:9100',
          date: '2025-09-22',
          hours: {
            '10:00': { all: allFigures(1), byMachine: { SMALL: allFigures(1) } },
            '11:00': { all: allFigures(1), byMachine: { SMALL: allFigures(1) } },
            '12:00': { all: allFigures(4), byMachine: { BIG: allFigures(4) } },
          },
          totals: { all: allFigures(6), byMachine: { SMALL: allFigures(2), BIG: allFigures(4) } },
        },
      ],
    ),
    instanceProjects: { 'a:9100': ['CLF'], 'b:9100': ['ISIS'] },
    instances: [
      seen(
        { instance: 'a:9100', project: 'CLF', machineName: 'Small', user: 'frank' },
        'h',
        '2025-09-22T10:00Z',
        '2025-09-22T12:00Z',
      ),
      seen(
        { instance: 'a:9100', project: 'CLF', machineName: 'Big', user: 'grace' },
        'h',
        '2025-09-22T12:00Z',
        '2025-09-22T13:00Z',
      ),
      seen(
        { instance: 'b:9100', project: 'ISIS', user: 'unknown', experiment: 'unknown' },
        'k',
        '2025-09-22T11:00Z',
        '2025-09-22T12:00Z',
      ),
    ],
  });
});

afterAll(async () => {
  await store.close();
  await rm(root, { recursive: true, force: true });
});

type Listed = Array<{ instance: string; user: string | null }>;

async function run(
  principal: Principal,
  args: string,
  fields = 'instance user experiment machineName firstSeen lastSeen ended hosts { host to } usage { busyCpuSeconds }',
  hostHistory?: Pick<HostHistoryStore, 'read'>,
): Promise<{ data?: { instances: Listed } | null; errors?: readonly { extensions: unknown }[] }> {
  const clock = fixedClock(at('2025-09-23T00:00:00Z'));
  return (await graphql({
    schema,
    source: `{ instances(${args}) { ${fields} } }`,
    contextValue: createRequestContext({
      hostHistory,
      store,
      clock,
      log: silentLogger,
      principal,
      scopeIndex: storeScopeIndex(store, async () => undefined),
    }),
  })) as { data?: { instances: Listed } | null; errors?: readonly { extensions: unknown }[] };
}

const admin: Principal = { kind: 'admin', name: 'ops' };
const RANGE = 'from: "2025-09-22T00:00:00Z", to: "2025-09-23T00:00:00Z"';

describe('instances', () => {
  it("gives each life its own hours' figures: its machine type's part of the address's series", async () => {
    const answer = await run(admin, RANGE);
    expect(answer.errors).toBeUndefined();
    expect(answer.data?.instances).toEqual([
      {
        instance: 'a:9100',
        user: 'frank',
        experiment: 'E1',
        machineName: 'Small',
        firstSeen: '2025-09-22T10:00:00.000Z',
        lastSeen: '2025-09-22T11:00:00.000Z',
        ended: false,
        hosts: [{ host: 'h', to: null }],
        usage: { busyCpuSeconds: figures(2).busyCpuSeconds },
      },
      expect.objectContaining({
        instance: 'a:9100',
        user: 'grace',
        usage: { busyCpuSeconds: figures(4).busyCpuSeconds },
      }),
      expect.objectContaining({ instance: 'b:9100', user: null, experiment: null }),
    ]);
  });

  it("gives each life its up hours and resources over the range, from its machine type's part", async () => {
    const answer = await run(
      admin,
      `user: "frank", ${RANGE}`,
      'upHours resources { upHours memoryByteHours diskBytesAvg networkReceiveBytes embodiedGco2eq }',
    );
    expect(answer.errors).toBeUndefined();
    const two = allFigures(2);
    expect(answer.data?.instances).toEqual([
      {
        upHours: two.upHours,
        resources: {
          upHours: two.upHours,
          memoryByteHours: two.memoryByteHours,
          diskBytesAvg: two.diskByteHours / two.upHours,
          networkReceiveBytes: two.networkReceiveBytes,
          embodiedGco2eq: two.embodiedGco2eq,
        },
      },
    ]);
  });

  it("shows the source's own host periods (one a register, with its reason) that overlap each life's hours", async () => {
    const history: Pick<HostHistoryStore, 'read'> = {
      read: async (instances) =>
        new Map(
          instances
            .filter((instance) => instance === 'a:9100')
            .map((instance) => [
              instance,
              {
                periods: [
                  {
                    host: 'h',
                    from: at('2025-09-22T10:10:00Z'),
                    to: at('2025-09-22T11:00:00Z'),
                    reason: 'NONE',
                  },
                  {
                    host: 'h',
                    from: at('2025-09-22T11:00:00Z'),
                    to: at('2025-09-22T12:10:00Z'),
                    reason: 'USER',
                  },
                  { host: 'elsewhere', from: at('2025-09-22T12:20:00Z'), to: null, reason: null },
                  {
                    host: 'before',
                    from: at('2025-09-20T00:00:00Z'),
                    to: at('2025-09-21T00:00:00Z'),
                    reason: 'ERROR',
                  },
                ],
                endedAt: null,
              },
            ]),
        ),
    };
    const answer = await run(admin, RANGE, 'instance user hosts { host from to reason }', history);
    // frank's hours are 10:00–12:00, grace's 12:00–13:00; b:9100 has no history: the index's run.
    expect(answer.data?.instances).toEqual([
      {
        instance: 'a:9100',
        user: 'frank',
        hosts: [
          { host: 'h', from: '2025-09-22T10:10:00.000Z', to: '2025-09-22T11:00:00.000Z', reason: 'NONE' },
          { host: 'h', from: '2025-09-22T11:00:00.000Z', to: '2025-09-22T12:10:00.000Z', reason: 'USER' },
        ],
      },
      {
        instance: 'a:9100',
        user: 'grace',
        hosts: [
          { host: 'h', from: '2025-09-22T11:00:00.000Z', to: '2025-09-22T12:10:00.000Z', reason: 'USER' },
          { host: 'elsewhere', from: '2025-09-22T12:20:00.000Z', to: null, reason: null },
        ],
      },
      {
        instance: 'b:9100',
        user: null,
        hosts: [{ host: 'k', from: '2025-09-22T11:00:00.000Z', to: null, reason: null }],
      },
    ]);
  });

  it('counts only the hours of the range', async () => {
    const answer = await run(admin, 'from: "2025-09-22T11:00:00Z", to: "2025-09-22T11:30:00Z"');
    expect(answer.data?.instances).toEqual([
      expect.objectContaining({ user: 'frank', usage: { busyCpuSeconds: figures(1).busyCpuSeconds } }),
      expect.objectContaining({ instance: 'b:9100' }),
    ]);
  });

  it('shows a scoped token the instances whose INSTANCE series it may read, and filters', async () => {
    const isis: Principal = {
      kind: 'scoped',
      name: 'isis',
      projects: new Set(['ISIS']),
      users: new Set(['frank']),
    };
    const scopedAnswer = await run(isis, RANGE);
    expect(scopedAnswer.data?.instances.map((r) => r.instance)).toEqual(['b:9100']);
    const byUser = await run(admin, `user: "grace", ${RANGE}`);
    expect(byUser.data?.instances.map((r) => r.user)).toEqual(['grace']);
    const byProject = await run(admin, `project: "ISIS", ${RANGE}`);
    expect(byProject.data?.instances.map((r) => r.instance)).toEqual(['b:9100']);
  });

  it('refuses a range that does not go forward, naming the argument', async () => {
    const answer = await run(admin, 'from: "2025-09-23T00:00:00Z", to: "2025-09-22T00:00:00Z"');
    expect(answer.errors?.[0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', argument: 'from' });
  });
});
