import { storeScopeIndex } from '../../../src/auth/scope-index';

describe('storeScopeIndex', () => {
  function countingStore(answers: Array<Map<string, ReadonlySet<string>> | Error>) {
    let reads = 0;
    return {
      get reads() {
        return reads;
      },
      readInstanceProjects: async () => {
        const answer = answers[Math.min(reads++, answers.length - 1)];
        if (answer instanceof Error) throw answer;
        return answer;
      },
    };
  }

  it('answers from one read while the store version holds, and reads again as soon as it changes', async () => {
    const store = countingStore([
      new Map([['vm1:9100', new Set(['IDAaaS'])]]),
      new Map([['vm1:9100', new Set(['IDAaaS', 'ISIS'])]]),
    ]);
    let version: string | undefined = 'v1';
    const index = storeScopeIndex(store, async () => version);
    expect((await index.read()).get('vm1:9100')).toEqual(new Set(['IDAaaS']));
    expect(await index.read()).toBe(await index.read());
    expect(store.reads).toBe(1);
    version = 'v2';
    expect((await index.read()).get('vm1:9100')).toEqual(new Set(['IDAaaS', 'ISIS']));
    expect(store.reads).toBe(2);
  });

  it('reads every time while the store gives no version (it is changing)', async () => {
    const store = countingStore([new Map()]);
    const index = storeScopeIndex(store, async () => undefined);
    await index.read();
    await index.read();
    expect(store.reads).toBe(2);
  });

  it('does not keep a failed read: the next question reads again', async () => {
    const store = countingStore([new Error('disk gone'), new Map([['vm1:9100', new Set(['CLF'])]])]);
    const index = storeScopeIndex(store, async () => 'v1');
    await expect(index.read()).rejects.toThrow('disk gone');
    expect((await index.read()).get('vm1:9100')).toEqual(new Set(['CLF']));
    expect(store.reads).toBe(2);
  });
});
