import { DAY_MS, HOUR_MS, periodStart } from '../domain/time';
import type { StoreCapabilities } from './capabilities';

/** Instances read or written at once. */
const HISTORY_CHUNK = 500;

/** What `copyCapabilities` copied. */
export interface CapabilitiesCopied {
  hostHistories: number;
  deliveries: number;
  projectUserDays: number;
}

/**
 * Copies what plugins keep beside the figures (instances' host history, what sinks sent, usage by
 * project and user) from one store's capabilities to another's. Each item replaces the target's
 * of the same instance, key or hour, so a copy run again writes the same.
 */
export async function copyCapabilities(
  from: StoreCapabilities,
  to: StoreCapabilities,
  signal?: AbortSignal,
): Promise<CapabilitiesCopied> {
  const instances = await from.hostHistory.list();
  for (let at = 0; at < instances.length; at += HISTORY_CHUNK) {
    signal?.throwIfAborted();
    await to.hostHistory.write(await from.hostHistory.read(instances.slice(at, at + HISTORY_CHUNK)));
  }
  let deliveries = 0;
  for (const sink of await from.deliveries.sinks()) {
    const recorded = await from.deliveries.read(sink);
    await to.deliveries.record(sink, recorded);
    deliveries += recorded.length;
  }
  const days = await from.projectUsers.days();
  for (const day of days) {
    signal?.throwIfAborted();
    const start = periodStart(day);
    const hours = Array.from({ length: DAY_MS / HOUR_MS }, (_, i) => start + i * HOUR_MS);
    await to.projectUsers.replaceHours(hours, await from.projectUsers.readDayRows(day));
  }
  return { hostHistories: instances.length, deliveries, projectUserDays: days.length };
}
