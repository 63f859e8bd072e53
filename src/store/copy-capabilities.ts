import { DAY_MS, HOUR_MS, periodStart } from '../domain/time';
import type { StoreCapabilities, SummaryStores } from './capabilities';
import { CopyMismatchError, NotACopyError } from './copy';

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

/** What `copySummaries` copied. */
export interface SummariesCopied {
  summaryDays: number;
  subscribers: number;
}

/**
 * Refuses (NotACopyError), before anything is written, a target whose daily summaries or
 * self-listed users are not the source's: an earlier copy holds some of the source's days and
 * users, each as the source has it.
 */
export async function checkSummariesCopy(from: SummaryStores, to: SummaryStores): Promise<void> {
  for (const date of await to.summaries.days()) {
    const [theirs, ours] = await Promise.all([from.summaries.readDay(date), to.summaries.readDay(date)]);
    if (!sameJson(theirs, ours)) {
      throw new NotACopyError(
        `the target's daily summaries of ${date} ${theirs === null ? 'are not in the source' : "differ from the source's"}`,
      );
    }
  }
  const theirs = await from.subscribers.list();
  for (const [user, address] of await to.subscribers.list()) {
    if (theirs.get(user) !== address) {
      throw new NotACopyError(
        `the target's summary email choice of user ${JSON.stringify(user)} is not the source's`,
      );
    }
  }
}

/**
 * Copies the daily summaries (each day whole, with whether it was complete) and the users' own
 * summary email choices, then compares them (CopyMismatchError when they differ). The log of
 * summary emails sent is not copied.
 */
export async function copySummaries(
  from: SummaryStores,
  to: SummaryStores,
  signal?: AbortSignal,
): Promise<SummariesCopied> {
  const days = await from.summaries.days();
  for (const date of days) {
    signal?.throwIfAborted();
    const day = await from.summaries.readDay(date);
    if (day !== null) await to.summaries.replaceDay(date, day.complete, day.records);
  }
  const subscribers = await from.subscribers.list();
  for (const [user, address] of subscribers) await to.subscribers.set(user, address);

  const copiedDays = await to.summaries.days();
  if (!sameJson(copiedDays, days)) {
    const day = days.find((date, i) => copiedDays[i] !== date) ?? copiedDays[days.length];
    throw new CopyMismatchError(
      `the days summarised differ at ${JSON.stringify(day)}: ${days.length} in the source, ${copiedDays.length} copied`,
    );
  }
  for (const date of days) {
    const [theirs, ours] = await Promise.all([from.summaries.readDay(date), to.summaries.readDay(date)]);
    if (!sameJson(theirs, ours)) throw new CopyMismatchError(`the daily summaries of ${date} differ`);
  }
  const copiedSubscribers = await to.subscribers.list();
  if (!sameJson([...copiedSubscribers].sort(), [...subscribers].sort())) {
    throw new CopyMismatchError("the users' summary email choices differ");
  }
  return { summaryDays: days.length, subscribers: subscribers.size };
}

/**
 * Equal as JSON, whatever the order of objects' keys (a jsonb column keeps its own): what a copy
 * of summaries read back from either store must be.
 */
function sameJson(a: unknown, b: unknown): boolean {
  return JSON.stringify(sortedKeys(a)) === JSON.stringify(sortedKeys(b));
}

function sortedKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortedKeys);
  if (value === null || typeof value !== 'object') return value;
  return Object.fromEntries(
    Object.entries(value)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([key, inner]) => [key, sortedKeys(inner)]),
  );
}
