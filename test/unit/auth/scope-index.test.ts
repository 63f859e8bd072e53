import { storeScopeIndex } from '../../../src/auth/scope-index';
import { fixedClock } from '../../../src/domain/clock';

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

  it('answers from one read of the store until the index is older than maxAgeMs', async () => {
    const clock = fixedClock(0);
    const store = countingStore([
      new Map([['vm1:9100', new Set(['IDAaaS'])]]),
      new Map([['vm1:9100', new Set(['IDAaaS', 'ISIS'])]]),
    ]);
    const index = storeScopeIndex(store, clock, 1000);
    expect(await index.projectsOfInstance('vm1:9100')).toEqual(new Set(['IDAaaS']));
    expect(await index.projectsOfInstance('vm9:9100')).toEqual(new Set());
    clock.advance(999);
    expect(await index.projectsOfInstance('vm1:9100')).toEqual(new Set(['IDAaaS']));
    expect(store.reads).toBe(1);
    clock.advance(1);
    expect(await index.projectsOfInstance('vm1:9100')).toEqual(new Set(['IDAaaS', 'ISIS']));
    expect(store.reads).toBe(2);
  });

  it('does not keep a failed read: the next question reads again', async () => {
    const store = countingStore([new Error('disk gone'), new Map([['vm1:9100', new Set(['CLF'])]])]);
    const index = storeScopeIndex(store, fixedClock(0), 1000);
    await expect(index.projectsOfInstance('vm1:9100')).rejects.toThrow('disk gone');
    expect(await index.projectsOfInstance('vm1:9100')).toEqual(new Set(['CLF']));
    expect(store.reads).toBe(2);
  });
});
