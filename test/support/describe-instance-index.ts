import type { InstanceObservation } from '../../src/domain/instances';
import { HOUR_MS } from '../../src/domain/time';
import type { Store } from '../../src/store/store';
import { at, batch, okHour, apply, applyOne } from './describe-store';

/** An observation of `instance` on `host` for the hours [fromIso, toIso). */
export function seen(
  fields: Partial<InstanceObservation> & { instance: string },
  host: string,
  fromIso: string,
  toIso: string,
): InstanceObservation {
  return {
    project: 'P',
    machineName: 'Small',
    user: 'ann',
    experiment: 'E1',
    deletedAt: null,
    ...fields,
    spans: [{ host, from: at(fromIso), to: at(toIso) }],
  };
}

/**
 * The behaviour every backend's instance index must show (contract section 11); run it with a
 * factory of empty stores, as `describeStore` is run.
 */
export function describeInstanceIndex(
  name: string,
  makeStore: () => Promise<{ store: Store; cleanup(): Promise<void> }>,
): void {
  describe(`InstanceIndex contract: ${name}`, () => {
    let store: Store;
    let cleanup: () => Promise<void>;

    beforeEach(async () => {
      ({ store, cleanup } = await makeStore());
    });

    afterEach(async () => {
      await store.close();
      await cleanup();
    });

    it('is empty before anything is recorded', async () => {
      expect(await store.instances.list(at('2025-01-01T00:00:00Z'), at('2026-01-01T00:00:00Z'))).toEqual({
        lives: [],
        throughHour: null,
      });
    });

    it('merges the hours of each life, on each host, and lists those up in the range', async () => {
      await store.instances.record(
        [seen({ instance: 'a:9100' }, 'h1', '2025-09-21T00:00:00Z', '2025-09-21T06:00:00Z')],
        at('2025-09-21T05:00:00Z'),
      );
      await store.instances.record(
        [
          seen(
            { instance: 'a:9100', experiment: 'E2' },
            'h2',
            '2025-09-21T06:00:00Z',
            '2025-09-21T08:00:00Z',
          ),
          seen({ instance: 'b:9100' }, 'h3', '2025-09-21T07:00:00Z', '2025-09-21T08:00:00Z'),
        ],
        at('2025-09-21T07:00:00Z'),
      );
      const all = await store.instances.list(at('2025-09-21T00:00:00Z'), at('2025-09-22T00:00:00Z'));
      expect(all.throughHour).toBe(at('2025-09-21T07:00:00Z'));
      expect(all.lives).toEqual([
        {
          instance: 'a:9100',
          project: 'P',
          machineName: 'Small',
          user: 'ann',
          experiment: 'E2',
          deletedAt: null,
          spans: [
            { host: 'h1', from: at('2025-09-21T00:00:00Z'), to: at('2025-09-21T06:00:00Z') },
            { host: 'h2', from: at('2025-09-21T06:00:00Z'), to: at('2025-09-21T08:00:00Z') },
          ],
        },
        expect.objectContaining({ instance: 'b:9100' }),
      ]);
      const early = await store.instances.list(at('2025-09-21T02:00:00Z'), at('2025-09-21T03:00:00Z'));
      expect(early.lives.map((life) => life.instance)).toEqual(['a:9100']);
      const after = await store.instances.list(at('2025-09-21T08:00:00Z'), at('2025-09-21T09:00:00Z'));
      expect(after.lives).toEqual([]);
    });

    it('keeps an address reused by another owner or machine type as another life', async () => {
      await store.instances.record(
        [
          seen({ instance: 'a:9100', user: 'frank' }, 'h', '2025-09-22T00:00:00Z', '2025-09-22T12:00:00Z'),
          seen(
            { instance: 'a:9100', user: 'grace', machineName: 'Big' },
            'h',
            '2025-09-22T12:00:00Z',
            '2025-09-22T14:00:00Z',
          ),
        ],
        at('2025-09-22T13:00:00Z'),
      );
      const { lives } = await store.instances.list(at('2025-09-22T00:00:00Z'), at('2025-09-23T00:00:00Z'));
      expect(lives.map((life) => [life.user, life.machineName, life.spans[0].from])).toEqual([
        ['frank', 'Small', at('2025-09-22T00:00:00Z')],
        ['grace', 'Big', at('2025-09-22T12:00:00Z')],
      ]);
    });

    it('changes nothing when the same hours are recorded again, and never moves throughHour back', async () => {
      const observation = seen(
        { instance: 'a:9100', deletedAt: at('2025-09-21T10:30:00Z') },
        'h',
        '2025-09-21T08:00:00Z',
        '2025-09-21T10:00:00Z',
      );
      await store.instances.record([observation], at('2025-09-21T09:00:00Z'));
      const before = await store.instances.list(at('2025-09-21T00:00:00Z'), at('2025-09-22T00:00:00Z'));
      await store.instances.record([observation], at('2025-09-21T09:00:00Z'));
      await store.instances.record([], at('2025-09-21T03:00:00Z'));
      await store.instances.record([], null);
      expect(await store.instances.list(at('2025-09-21T00:00:00Z'), at('2025-09-22T00:00:00Z'))).toEqual(
        before,
      );
    });

    it('takes the experiment and registry deletion of the latest hour, whatever the order of recording', async () => {
      await store.instances.record(
        [
          seen(
            { instance: 'a:9100', experiment: 'late', deletedAt: at('2025-09-23T00:00:00Z') },
            'h',
            '2025-09-22T00:00:00Z',
            '2025-09-22T02:00:00Z',
          ),
        ],
        at('2025-09-22T01:00:00Z'),
      );
      // A backfill of older hours afterwards.
      await store.instances.record(
        [
          seen(
            { instance: 'a:9100', experiment: 'early' },
            'h',
            '2025-09-20T00:00:00Z',
            '2025-09-20T02:00:00Z',
          ),
        ],
        at('2025-09-20T01:00:00Z'),
      );
      const { lives } = await store.instances.list(at('2025-09-20T00:00:00Z'), at('2025-09-23T00:00:00Z'));
      expect(lives).toHaveLength(1);
      expect(lives[0].experiment).toBe('late');
      expect(lives[0].deletedAt).toBe(at('2025-09-23T00:00:00Z'));
      expect(lives[0].spans).toEqual([
        { host: 'h', from: at('2025-09-20T00:00:00Z'), to: at('2025-09-20T02:00:00Z') },
        { host: 'h', from: at('2025-09-22T00:00:00Z'), to: at('2025-09-22T02:00:00Z') },
      ]);
    });

    it('is kept current by applyBatch, with the batch newest ok hour', async () => {
      const hour = '2025-09-21T04:00:00Z';
      await apply(store, {
        ...batch([okHour(hour)], []),
        instances: [seen({ instance: 'a:9100' }, 'h', hour, new Date(at(hour) + HOUR_MS).toISOString())],
      });
      const view = await store.instances.list(at(hour), at(hour) + HOUR_MS);
      expect(view.throughHour).toBe(at(hour));
      expect(view.lives.map((life) => life.instance)).toEqual(['a:9100']);
    });

    it('indexes no hour whose stored figures were kept, so a re-mapped project gets no phantom life', async () => {
      const [hour, next] = ['2025-09-21T04:00:00Z', '2025-09-21T05:00:00Z'];
      await apply(store, {
        ...batch([okHour(hour, { small: 2 })], []),
        instances: [seen({ instance: 'a:9100', project: 'P' }, 'h', hour, next)],
      });
      // Fewer series than stored: the hour's figures stay P's, whatever project the answer names.
      const kept = await applyOne(store, {
        ...batch([okHour(hour, { small: 1 })], []),
        instances: [seen({ instance: 'a:9100', project: 'Q' }, 'h', hour, next)],
      });
      expect(kept.keptHours.map((k) => k.hour)).toEqual([at(hour)]);
      const view = await store.instances.list(at(hour), at(next));
      expect(view.lives.map((life) => [life.instance, life.project])).toEqual([['a:9100', 'P']]);
    });

    it('gives hours replaced under a re-mapped project to the new life only, dropping a life left empty', async () => {
      const [h0, h1, h2] = ['2025-09-21T04:00:00Z', '2025-09-21T05:00:00Z', '2025-09-21T06:00:00Z'];
      await apply(store, {
        ...batch([okHour(h0), okHour(h1)], []),
        instances: [seen({ instance: 'a:9100', project: 'P' }, 'h', h0, h2)],
      });
      await applyOne(
        store,
        { ...batch([okHour(h1)], []), instances: [seen({ instance: 'a:9100', project: 'Q' }, 'h', h1, h2)] },
        { replace: true },
      );
      const lives = (await store.instances.list(at(h0), at(h2))).lives;
      expect(lives.map((life) => [life.project, life.spans])).toEqual([
        ['P', [{ host: 'h', from: at(h0), to: at(h1) }]],
        ['Q', [{ host: 'h', from: at(h1), to: at(h2) }]],
      ]);
      await applyOne(
        store,
        { ...batch([okHour(h0)], []), instances: [seen({ instance: 'a:9100', project: 'Q' }, 'h', h0, h1)] },
        { replace: true },
      );
      const after = (await store.instances.list(at(h0), at(h2))).lives;
      expect(after.map((life) => [life.project, life.spans])).toEqual([
        ['Q', [{ host: 'h', from: at(h0), to: at(h2) }]],
      ]);
    });

    it('takes a replaced hour from an instance the new answer no longer holds, leaving its other hours', async () => {
      const [h0, h1, h2, h3] = [
        '2025-09-21T04:00:00Z',
        '2025-09-21T05:00:00Z',
        '2025-09-21T06:00:00Z',
        '2025-09-21T07:00:00Z',
      ];
      await apply(store, {
        ...batch([okHour(h0, { small: 2 }), okHour(h1, { small: 2 }), okHour(h2, { small: 2 })], []),
        instances: [
          seen({ instance: 'a:9100' }, 'h', h0, h3),
          seen({ instance: 'b:9100' }, 'h', h0, h3),
          seen({ instance: 'c:9100' }, 'h', h1, h2),
        ],
      });
      // The middle hour again, replaced by an answer in which only a:9100 ran.
      await applyOne(
        store,
        { ...batch([okHour(h1, { small: 1 })], []), instances: [seen({ instance: 'a:9100' }, 'h', h1, h2)] },
        { replace: true },
      );
      const lives = (await store.instances.list(at(h0), at(h3))).lives;
      expect(lives.map((life) => [life.instance, life.spans])).toEqual([
        ['a:9100', [{ host: 'h', from: at(h0), to: at(h3) }]],
        [
          'b:9100',
          [
            { host: 'h', from: at(h0), to: at(h1) },
            { host: 'h', from: at(h2), to: at(h3) },
          ],
        ],
      ]);
    });
  });
}
