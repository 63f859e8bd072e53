import { parseConfig } from '../../../src/config';
import { zeroBreakdown, type Breakdown } from '../../../src/domain/figures';
import { capabilitiesOf, type StoreCapabilities } from '../../../src/store/capabilities';
import { copyCapabilities } from '../../../src/store/copy-capabilities';
import type { Delivery } from '../../../src/store/deliveries';
import type { InstanceHostHistory } from '../../../src/store/host-history';
import { openJsonStore } from '../../../src/store/json';
import { openPostgresStore } from '../../../src/store/postgres';
import type { Store } from '../../../src/store/store';
import { tempDirs } from '../../support/fake-ingest';
import { createTestDatabase } from '../../support/postgres';

interface Opened {
  store: Store;
  capabilities: StoreCapabilities;
  close(): Promise<void>;
}

const dirs = tempDirs('cl-capabilities-');
afterAll(() => dirs.cleanup());

/** Each backend as the config names it, and its capabilities as `capabilitiesOf` picks them. */
const BACKENDS: Array<[string, () => Promise<Opened>]> = [
  [
    'json',
    async () => {
      const dataDir = dirs.make();
      const store = await openJsonStore({ dataDir });
      const config = parseConfig({ store: { dataDir } });
      return { store, capabilities: capabilitiesOf(config.store, store), close: () => store.close() };
    },
  ],
  [
    'postgres',
    async () => {
      const database = await createTestDatabase();
      const store = await openPostgresStore({ url: database.url });
      const config = parseConfig({ store: { kind: 'postgres', url: database.url } });
      return {
        store,
        capabilities: capabilitiesOf(config.store, store),
        close: async () => {
          await store.close();
          await database.drop();
        },
      };
    },
  ],
];

const H = Date.parse('2025-03-10T00:00:00Z');
const HOUR = 3_600_000;

function delivery(key: string, status: Delivery['status'], attempts = 1): Delivery {
  return {
    key,
    day: '2025-03-10',
    project: 'P',
    sentAt: '2025-03-12T02:00:00.000Z',
    status,
    httpStatus: status === 'accepted' ? 201 : 500,
    answer: status === 'accepted' ? '{"ok":true}' : 'failing',
    bodySha256: 'a'.repeat(64),
    acceptedSha256: status === 'accepted' ? 'a'.repeat(64) : null,
    attempts,
  };
}

function figures(busy: number, machine = 'M'): Breakdown {
  const breakdown = zeroBreakdown();
  breakdown.all.busyCpuSeconds = busy;
  breakdown.all.memoryByteHours = busy * 1e6;
  breakdown.byMachine[machine] = { ...breakdown.all };
  return breakdown;
}

describe.each(BACKENDS)('store capabilities on the %s store', (_name, open) => {
  let opened: Opened;
  beforeEach(async () => {
    opened = await open();
  });
  afterEach(() => opened.close());

  it('keep the latest delivery of each key of each sink, in key order', async () => {
    const { deliveries } = opened.capabilities;
    expect(await deliveries.read('perseus')).toEqual([]);
    await deliveries.record('perseus', [delivery('["b"]', 'unreachable'), delivery('["a"]', 'accepted')]);
    await deliveries.record('other', [delivery('["z"]', 'refused')]);
    await deliveries.record('perseus', [delivery('["b"]', 'accepted', 2)]);
    await deliveries.record('perseus', []);
    expect(await deliveries.read('perseus')).toEqual([
      delivery('["a"]', 'accepted'),
      delivery('["b"]', 'accepted', 2),
    ]);
    expect(await deliveries.read('other')).toEqual([delivery('["z"]', 'refused')]);
  });

  it('keep each instance’s host history, replacing only the instances written', async () => {
    const { hostHistory } = opened.capabilities;
    const moved: InstanceHostHistory = {
      periods: [
        { host: 'a', from: H, to: H + HOUR, reason: 'USER' },
        { host: 'b', from: H + HOUR, to: null, reason: null },
      ],
      endedAt: null,
    };
    await hostHistory.write(
      new Map<string, InstanceHostHistory>([
        ['one-2', moved],
        [
          'one-1',
          { periods: [{ host: 'a', from: H, to: H + 2 * HOUR, reason: 'NONE' }], endedAt: H + 2 * HOUR },
        ],
      ]),
    );
    const done = {
      ...moved,
      periods: [moved.periods[0], { ...moved.periods[1], to: H + 5 * HOUR, reason: 'NONE' }],
    };
    await hostHistory.write(new Map([['one-2', done]]));
    await hostHistory.write(new Map());
    expect(await hostHistory.list()).toEqual(['one-1', 'one-2']);
    const read = await hostHistory.read(['one-2', 'one-9']);
    expect([...read]).toEqual([['one-2', done]]);
    expect((await hostHistory.read(['one-1'])).get('one-1')?.endedAt).toBe(H + 2 * HOUR);
  });

  it('keep usage by project and user: an hour replaced holds exactly its rows, a day sums its hours', async () => {
    const { projectUsers } = opened.capabilities;
    await projectUsers.replaceHours(
      [H, H + HOUR, H + 24 * HOUR],
      [
        { hour: H, project: 'P', user: 'alice', figures: figures(10) },
        { hour: H, project: 'P', user: 'alice', figures: figures(5, 'N') },
        { hour: H, project: 'P', user: 'bob', figures: figures(7) },
        { hour: H + HOUR, project: 'P', user: 'alice', figures: figures(1) },
        { hour: H + HOUR, project: 'Q', user: 'alice', figures: figures(100) },
        // The next day.
        { hour: H + 24 * HOUR, project: 'P', user: 'alice', figures: figures(1000) },
        // Not an hour being replaced: left out.
        { hour: H + 2 * HOUR, project: 'P', user: 'carol', figures: figures(1) },
      ],
    );
    const day = await projectUsers.readDay('2025-03-10', 'P');
    expect([...day.keys()].sort()).toEqual(['alice', 'bob']);
    expect(day.get('alice')!.all.busyCpuSeconds).toBe(16);
    expect(day.get('alice')!.all.memoryByteHours).toBe(16e6);
    expect(day.get('alice')!.byMachine).toEqual({ M: figures(11).all, N: figures(5).all });
    expect(day.get('bob')!.all.busyCpuSeconds).toBe(7);

    // Hour H again, with bob gone and alice's figures repaired.
    await projectUsers.replaceHours([H], [{ hour: H, project: 'P', user: 'alice', figures: figures(2) }]);
    const repaired = await projectUsers.readDay('2025-03-10', 'P');
    expect([...repaired.keys()]).toEqual(['alice']);
    expect(repaired.get('alice')!.all.busyCpuSeconds).toBe(3);
    expect((await projectUsers.readDay('2025-03-10', 'Q')).get('alice')!.all.busyCpuSeconds).toBe(100);
    expect((await projectUsers.readDay('2025-03-11', 'P')).get('alice')!.all.busyCpuSeconds).toBe(1000);
    expect(await projectUsers.readDay('2025-03-12', 'P')).toEqual(new Map());
  });
});

it('capabilitiesOf refuses a postgres config with a store that is not PostgreSQL', async () => {
  const dataDir = dirs.make();
  const store = await openJsonStore({ dataDir });
  try {
    const config = parseConfig({ store: { kind: 'postgres', url: 'postgres://x/y' } });
    expect(() => capabilitiesOf(config.store, store)).toThrow(/not the PostgreSQL store/);
  } finally {
    await store.close();
  }
});

describe('copyCapabilities', () => {
  const backend = (name: string) => BACKENDS.find(([kind]) => kind === name)![1];
  it.each([
    ['json', 'postgres'],
    ['postgres', 'json'],
  ])(
    'copies host history, deliveries and usage by project and user from %s to %s, the same on a second run',
    async (a, b) => {
      const [from, to] = [await backend(a)(), await backend(b)()];
      try {
        const history: InstanceHostHistory = {
          periods: [{ host: 'node-a', from: H, to: H + HOUR, reason: 'ERROR' }],
          endedAt: H + HOUR,
        };
        await from.capabilities.hostHistory.write(new Map([['one-7', history]]));
        await from.capabilities.deliveries.record('perseus', [delivery('["k"]', 'refused', 4)]);
        const rows = [
          { hour: H + 5 * HOUR, project: 'P', user: 'alice', figures: figures(3) },
          { hour: H + 5 * HOUR, project: 'P', user: 'bob', figures: figures(4, 'N') },
          { hour: H + 30 * HOUR, project: 'Q', user: 'alice', figures: figures(5) },
        ];
        await from.capabilities.projectUsers.replaceHours([H + 5 * HOUR, H + 30 * HOUR], rows);
        // What the target held for those hours before is replaced.
        await to.capabilities.projectUsers.replaceHours(
          [H + 5 * HOUR],
          [{ hour: H + 5 * HOUR, project: 'P', user: 'carol', figures: figures(9) }],
        );

        const copied = await copyCapabilities(from.capabilities, to.capabilities);
        expect(copied).toEqual({ hostHistories: 1, deliveries: 1, projectUserDays: 2 });
        expect(await copyCapabilities(from.capabilities, to.capabilities)).toEqual(copied);
        expect(await to.capabilities.hostHistory.read(['one-7'])).toEqual(new Map([['one-7', history]]));
        expect(await to.capabilities.deliveries.sinks()).toEqual(['perseus']);
        expect(await to.capabilities.deliveries.read('perseus')).toEqual([delivery('["k"]', 'refused', 4)]);
        expect(await to.capabilities.projectUsers.days()).toEqual(['2025-03-10', '2025-03-11']);
        const sorted = (list: Awaited<ReturnType<StoreCapabilities['projectUsers']['readDayRows']>>) =>
          [...list].sort((x, y) => x.hour - y.hour || (x.user < y.user ? -1 : 1));
        expect(sorted(await to.capabilities.projectUsers.readDayRows('2025-03-10'))).toEqual(
          rows.slice(0, 2),
        );
        expect(await to.capabilities.projectUsers.readDayRows('2025-03-11')).toEqual(rows.slice(2));
      } finally {
        await from.close();
        await to.close();
      }
    },
  );
});
