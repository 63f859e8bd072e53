import { join } from 'node:path';
import { listNames, mapLimit, readTextIfExists, writeFileAtomic } from '../../fs/files';
import type { HostHistoryStore, InstanceHostHistory } from '../host-history';
import { decodeKey, encodeKey } from './layout';

/** Files read or written at once. */
const CONCURRENCY = 8;

/**
 * One file per instance, `<dataDir>/instances/hosts/<key>.json`, rewritten atomically and only
 * when its history changed (an hourly run reports the same periods again and again).
 */
export function jsonHostHistory(dataDir: string): HostHistoryStore {
  const dir = join(dataDir, 'instances', 'hosts');
  const pathOf = (instance: string) => join(dir, `${encodeKey(instance)}.json`);
  const readOne = async (instance: string): Promise<InstanceHostHistory | null> => {
    const text = await readTextIfExists(pathOf(instance));
    return text === null ? null : (JSON.parse(text) as InstanceHostHistory);
  };
  return {
    async write(histories) {
      await mapLimit([...histories], CONCURRENCY, async ([instance, history]) => {
        const text = `${JSON.stringify(history)}\n`;
        if ((await readTextIfExists(pathOf(instance))) !== text)
          await writeFileAtomic(pathOf(instance), text);
      });
    },
    async read(instances) {
      const found = new Map<string, InstanceHostHistory>();
      const read = await mapLimit([...instances], CONCURRENCY, readOne);
      instances.forEach((instance, i) => {
        const history = read[i];
        if (history !== null) found.set(instance, history);
      });
      return found;
    },
    async list() {
      const names = await listNames(dir, 'file');
      return names
        .filter((name) => name.endsWith('.json'))
        .map((name) => decodeKey(name.slice(0, -'.json'.length)))
        .filter((key): key is string => key !== null)
        .sort();
    },
  };
}
