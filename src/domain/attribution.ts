import { identifiers } from './figures';
import { UNKNOWN } from './levels';
import { MEASURED_NAMES } from './metrics';
import { carrySampled, type AttributedInstanceHour, type RawInstanceHour } from './usage';

/** Who held a host at a time, as the workspace registry says; null where the registry leaves it blank. */
export interface Workspace {
  owner: string | null;
  experiment: string | null;
  /** When the workspace was deleted (epoch ms); null or absent while it exists. */
  deletedAt?: number | null;
}

/** The workspace registry as attribution sees it; loading it (I/O) is the workspaces plugin's job. */
export interface WorkspaceRegistry {
  /** The workspace on `host` at `hourStart` (epoch ms), if any. */
  lookup(host: string, hourStart: number): Workspace | undefined;
}

/** Which series labels name each key (the config's `prometheus.labels` maps into this). */
export interface AttributionLabels {
  project: string;
  machine: string;
  host: string;
  user?: string;
  experiment?: string;
}

/**
 * The host part of an `instance` label: `node-1:9100` → `node-1`, `[fd00::2]:9100` → `fd00::2`.
 * A bare IPv6 address (several colons, no brackets) has no port to drop.
 */
export function hostOfInstance(instance: string): string {
  if (instance.startsWith('[')) {
    const close = instance.indexOf(']');
    return close > 0 ? instance.slice(1, close) : instance;
  }
  const colon = instance.indexOf(':');
  return colon >= 0 && colon === instance.lastIndexOf(':') ? instance.slice(0, colon) : instance;
}

/** A label's value; Prometheus treats an empty label as absent, and so do we. */
function labelValue(labels: Record<string, string>, name: string | undefined): string | undefined {
  if (name === undefined) return undefined;
  const value = labels[name];
  return value === undefined || value === '' ? undefined : value;
}

/**
 * Every key an instance-hour is counted under (contract section 1), as labelled: how a store keeps
 * a key (a JSON store shortens one too long to name a directory) is the store's to say. Project and machine type come
 * from labels only; a series without them is still energy spent, so it is counted under `unknown`
 * rather than dropped. User and experiment come from their labels when configured and present, else
 * from the registry record holding the host at the hour's start, else `unknown`.
 */
export function attribute(
  raw: RawInstanceHour,
  labels: AttributionLabels,
  registry: WorkspaceRegistry,
): AttributedInstanceHour {
  if (raw.attribution !== undefined) {
    const { host, project, machineName, user, experiment } = raw.attribution;
    return carrySampled(raw, attributedHour(raw, host, project, machineName, user, experiment));
  }
  const host = labelValue(raw.labels, labels.host) ?? hostOfInstance(raw.instance);
  const userLabel = labelValue(raw.labels, labels.user);
  const experimentLabel = labelValue(raw.labels, labels.experiment);
  const workspace =
    userLabel === undefined || experimentLabel === undefined ? registry.lookup(host, raw.hour) : undefined;
  // `||`, not `??`: a blank owner or experiment in the registry is as unknown as a null one.
  const hour = attributedHour(
    raw,
    host,
    labelValue(raw.labels, labels.project) ?? UNKNOWN,
    labelValue(raw.labels, labels.machine) ?? UNKNOWN,
    userLabel ?? (workspace?.owner || UNKNOWN),
    experimentLabel ?? (workspace?.experiment || UNKNOWN),
  );
  return carrySampled(raw, hour);
}

/**
 * An attributed hour as one object literal: its keys, then every measured figure of the catalogue
 * (0 where the source did not report it). Compiled once from the catalogue's names (as figures.ts
 * does), because ingestion makes one per instance-hour: one allocation of one shape, where spreads
 * of intermediate objects cost five times the bytes.
 */
const attributedHour = new Function(
  'raw',
  'host',
  'project',
  'machineName',
  'user',
  'experiment',
  `return { hour: raw.hour, instance: raw.instance, host, project, machineName, user, experiment, ${identifiers(
    MEASURED_NAMES,
  )
    .map((name) => `${name}: raw.${name} ?? 0`)
    .join(', ')} };`,
) as (
  raw: RawInstanceHour,
  host: string,
  project: string,
  machineName: string,
  user: string,
  experiment: string,
) => AttributedInstanceHour;
