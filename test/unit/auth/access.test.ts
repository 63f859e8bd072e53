import { graphql, type GraphQLSchema } from 'graphql';

import { accessFor } from '../../../src/auth/access';
import { ANONYMOUS, type Principal } from '../../../src/auth/principal';
import { noInstanceProjects, scopeIndexOf } from '../../../src/auth/scope-index';
import { fixedClock } from '../../../src/domain/clock';
import type { Level } from '../../../src/domain/levels';
import { silentLogger } from '../../../src/log';
import { buildAppSchema, createRequestContext } from '../../../src/app-schema';
import type { ActiveWorkspaceRecord } from '../../../src/services/active-workspaces';
import { at, dayEntry, memoryUsageStore, okHour, usage } from '../../support/usage-store';

const scoped = (projects: string[], users: string[] = []): Principal => ({
  kind: 'scoped',
  name: 'scoped',
  projects: new Set(projects),
  users: new Set(users),
});

const INDEX = scopeIndexOf({
  'node-1:9100': ['IDAaaS'],
  'node-2:9100': ['ISIS'],
  'node-3:9100': ['IDAaaS', 'ISIS'],
});

/** The error a refused check rejects with, for matching its code and message. */
async function refusal(check: Promise<unknown> | (() => unknown)) {
  try {
    await (typeof check === 'function' ? check() : check);
  } catch (err) {
    return err as Error & { extensions: Record<string, unknown> };
  }
  throw new Error('expected the check to refuse');
}

describe('accessFor', () => {
  it.each([
    ['an admin', { kind: 'admin', name: 'ops' } as Principal],
    ['anonymous', ANONYMOUS],
  ])('lets %s read everything', async (_who, principal) => {
    const access = accessFor(principal, noInstanceProjects);
    for (const level of ['PROJECT', 'EXPERIMENT', 'MACHINE', 'USER', 'INSTANCE'] as Level[]) {
      await expect(access.requireSeries(level, ['anything'])).resolves.toBeUndefined();
      await expect(access.visibleKeys(level, ['b', 'a'])).resolves.toEqual(['b', 'a']);
    }
    expect(() => access.requireMachineMetrics()).not.toThrow();
  });

  it('scopes PROJECT to the projects and USER to the users, keeping the order given', async () => {
    const access = accessFor(scoped(['ISIS', 'CLF'], ['alice']), INDEX);
    await expect(access.visibleKeys('PROJECT', ['CLF', 'IDAaaS', 'ISIS'])).resolves.toEqual(['CLF', 'ISIS']);
    await expect(access.visibleKeys('USER', ['alice', 'bob'])).resolves.toEqual(['alice']);
    await expect(access.requireSeries('PROJECT', ['ISIS', 'CLF'])).resolves.toBeUndefined();
    await expect(access.requireSeries('USER', ['alice'])).resolves.toBeUndefined();
  });

  it('scopes an INSTANCE to a token holding every project it ran under', async () => {
    const isis = accessFor(scoped(['ISIS']), INDEX);
    const both = accessFor(scoped(['ISIS', 'IDAaaS']), INDEX);
    const instances = ['node-1:9100', 'node-2:9100', 'node-3:9100', 'unknown:9100'];
    await expect(isis.visibleKeys('INSTANCE', instances)).resolves.toEqual(['node-2:9100']);
    await expect(both.visibleKeys('INSTANCE', instances)).resolves.toEqual([
      'node-1:9100',
      'node-2:9100',
      'node-3:9100',
    ]);
    // With no index, no instance can be shown to belong to a project.
    await expect(
      accessFor(scoped(['ISIS']), noInstanceProjects).visibleKeys('INSTANCE', instances),
    ).resolves.toEqual([]);
  });

  it('reads the index once in a request', async () => {
    const read = jest.fn(INDEX.read);
    const access = accessFor(scoped(['ISIS']), { read });
    await access.visibleKeys('INSTANCE', ['node-2:9100', 'node-1:9100']);
    await access.requireSeries('INSTANCE', ['node-2:9100']);
    expect(read).toHaveBeenCalledTimes(1);
  });

  it('refuses the keys out of scope with FORBIDDEN, naming at most five of them', async () => {
    const access = accessFor(scoped(['ISIS']), INDEX);
    const one = await refusal(access.requireSeries('PROJECT', ['ISIS', 'IDAaaS']));
    expect(one.extensions).toEqual({ code: 'FORBIDDEN' });
    expect(one.message).toBe('Token "scoped" may not read the PROJECT series of "IDAaaS"');

    const many = await refusal(access.requireSeries('USER', ['a', 'b', 'c', 'd', 'e', 'f', 'g']));
    expect(many.message).toBe(
      'Token "scoped" may not read the USER series of "a", "b", "c", "d", "e" and 2 more',
    );

    const instance = await refusal(access.requireSeries('INSTANCE', ['node-3:9100']));
    expect(instance.message).toContain('"node-3:9100"');
  });

  it('refuses EXPERIMENT and MACHINE series and machineMetrics to scoped tokens, and lists none of their keys', async () => {
    const access = accessFor(scoped(['ISIS'], ['alice']), INDEX);
    for (const level of ['EXPERIMENT', 'MACHINE'] as const) {
      const refused = await refusal(access.requireSeries(level, ['ISIS']));
      expect(refused.extensions).toEqual({ code: 'FORBIDDEN' });
      expect(refused.message).toContain(`${level} series`);
      await expect(access.visibleKeys(level, ['ISIS', 'alice'])).resolves.toEqual([]);
    }
    const metrics = await refusal(() => access.requireMachineMetrics());
    expect(metrics.extensions).toEqual({ code: 'FORBIDDEN' });
    expect(metrics.message).toContain('machineMetrics');
  });

  it("shows the workspaces of the token's projects and those its users hold", async () => {
    const workspaces = [
      { instance: 'a', project: 'ISIS', user: 'bob' },
      { instance: 'b', project: 'IDAaaS', user: 'alice' },
      { instance: 'c', project: 'IDAaaS', user: null },
      { instance: 'd', project: 'CLF', user: 'carol' },
    ] as ActiveWorkspaceRecord[];
    const access = accessFor(scoped(['ISIS'], ['alice']), INDEX);
    const status = { takenAt: 1, lastPollFailed: true, stale: false };
    const filtered = access.visibleWorkspaces({ list: async () => workspaces, status: () => status });
    expect((await filtered.list()).map((workspace) => workspace.instance)).toEqual(['a', 'b']);
    expect(filtered.status()).toBe(status);
  });
});

describe('scoped queries through the schema', () => {
  let schema: GraphQLSchema;
  beforeAll(async () => {
    schema = await buildAppSchema();
  });

  const store = () =>
    memoryUsageStore({
      entries: ['IDAaaS', 'ISIS'].flatMap((project) => [
        dayEntry('PROJECT', project, '2025-09-22', { '00:00': usage({ CPU_SMALL: { busyKwh: 1 } }) }),
      ]),
      ledger: { '2025-09-22T00:00:00Z': okHour() },
    });

  async function run(source: string, principal: Principal) {
    const contextValue = createRequestContext({
      store: store(),
      clock: fixedClock(at('2025-09-23T10:00:00Z')),
      log: silentLogger,
      principal,
      scopeIndex: INDEX,
    });
    return JSON.parse(JSON.stringify(await graphql({ schema, source, contextValue })));
  }

  it('lists only the keys in scope, and answers FORBIDDEN for a series out of it', async () => {
    const result = await run(
      `{ usageKeys(level: PROJECT)
         usageSeries(level: PROJECT, key: "IDAaaS", from: "2025-09-22", to: "2025-09-23", granularity: DAY) { key } }`,
      scoped(['ISIS']),
    );
    expect(result.data).toBeNull();
    expect(result.errors).toEqual([
      expect.objectContaining({ path: ['usageSeries'], extensions: { code: 'FORBIDDEN' } }),
    ]);

    const keys = await run('{ usageKeys(level: PROJECT) }', scoped(['ISIS']));
    expect(keys).toEqual({ data: { usageKeys: ['ISIS'] } });
  });

  it('reports bad input before scope, as for any caller', async () => {
    const result = await run(
      '{ usageSeries(level: PROJECT, key: "IDAaaS", from: "2025-09-23", to: "2025-09-22", granularity: DAY) { key } }',
      scoped(['ISIS']),
    );
    expect(result.errors[0].extensions).toEqual({ code: 'BAD_USER_INPUT', argument: 'from' });
  });

  it('defaults to anonymous, which sees everything', async () => {
    const contextValue = createRequestContext({
      store: store(),
      clock: fixedClock(at('2025-09-23T10:00:00Z')),
      log: silentLogger,
    });
    const result = await graphql({ schema, source: '{ usageKeys(level: PROJECT) }', contextValue });
    expect(result.data).toEqual({ usageKeys: ['IDAaaS', 'ISIS'] });
  });
});
