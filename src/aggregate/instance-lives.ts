import { type InstanceObservation, lifeIdentity, normaliseSpans } from '../domain/instances';
import { HOUR_MS } from '../domain/time';
import type { AttributedInstanceHour } from '../domain/usage';

/** When the registry says the workspace on `host` at `hour` was deleted; null when it does not. */
export type DeletedAtLookup = (host: string, hour: number) => number | null;

/**
 * What a batch's instance-hours say of each instance's life: the hours it had samples, on which
 * host, and the experiment and registry deletion at its latest hour. Sorted by identity.
 */
export function observeInstances(
  hours: readonly AttributedInstanceHour[],
  deletedAt: DeletedAtLookup,
): InstanceObservation[] {
  const byIdentity = new Map<
    string,
    { latest: AttributedInstanceHour; spans: InstanceObservation['spans'] }
  >();
  for (const hour of hours) {
    const identity = lifeIdentity(hour);
    let seen = byIdentity.get(identity);
    if (seen === undefined) byIdentity.set(identity, (seen = { latest: hour, spans: [] }));
    if (hour.hour >= seen.latest.hour) seen.latest = hour;
    seen.spans.push({ host: hour.host, from: hour.hour, to: hour.hour + HOUR_MS });
  }
  return [...byIdentity.keys()].sort().map((identity) => {
    const { latest, spans } = byIdentity.get(identity)!;
    return {
      instance: latest.instance,
      project: latest.project,
      machineName: latest.machineName,
      user: latest.user,
      experiment: latest.experiment,
      spans: normaliseSpans(spans),
      deletedAt: deletedAt(latest.host, latest.hour),
    };
  });
}
