import { join } from 'node:path';
import { listNames, readTextIfExists, writeFileAtomic } from '../../fs/files';
import type { Delivery, DeliveryLog } from '../deliveries';
import { decodeKey, encodeKey } from './layout';

interface DeliveryFile {
  deliveries: Record<string, Delivery>;
}

/** Each sink's deliveries in one small file, `<dataDir>/sinks/<sink>.json`, rewritten atomically. */
export function jsonDeliveryLog(dataDir: string): DeliveryLog {
  const pathOf = (sink: string) => join(dataDir, 'sinks', `${encodeKey(sink)}.json`);
  const load = async (sink: string): Promise<DeliveryFile> => {
    const text = await readTextIfExists(pathOf(sink));
    if (text === null) return { deliveries: {} };
    const parsed = JSON.parse(text) as DeliveryFile;
    if (typeof parsed?.deliveries !== 'object' || parsed.deliveries === null) {
      throw new Error(`${pathOf(sink)}: not a delivery log`);
    }
    return parsed;
  };
  return {
    async read(sink) {
      const { deliveries } = await load(sink);
      return Object.keys(deliveries)
        .sort()
        .map((key) => deliveries[key]);
    },
    async sinks() {
      const names = await listNames(join(dataDir, 'sinks'), 'file');
      return names
        .filter((name) => name.endsWith('.json'))
        .map((name) => decodeKey(name.slice(0, -'.json'.length)))
        .filter((sink): sink is string => sink !== null)
        .sort();
    },
    async record(sink, recorded) {
      if (recorded.length === 0) return;
      const file = await load(sink);
      for (const delivery of recorded) file.deliveries[delivery.key] = delivery;
      await writeFileAtomic(pathOf(sink), `${JSON.stringify(file, null, 1)}\n`);
    },
  };
}
