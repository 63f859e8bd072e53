import type { Access } from '../auth/access';
import { zeroBreakdown, zeroFigures, type Figures } from '../domain/figures';
import {
  firstSeen,
  hasEnded,
  hostPeriods,
  type HostPeriod,
  type InstanceLife,
  lastSeen,
} from '../domain/instances';
import { UNKNOWN } from '../domain/levels';
import { machineKey } from '../domain/machine-key';
import { ceilHour, floorHour, HOUR_MS } from '../domain/time';
import type { HostHistoryStore, InstanceHostHistory } from '../store/host-history';
import type { InstanceIndex } from '../store/instance-index';
import { instanceRecordId } from './ids';
import { presented } from './precision';
import { filesToRead, planReads } from './read-plan';
import { resourcesView, type ResourceFiguresView } from './resource-figures';
import { addStoredFigures, loadStoredFiles } from './stored-figures';
import type { UsageReader } from './usage-reader';
import { figuresView, type UsageFiguresView } from './usage-series';

export interface InstanceRecordView {
  id: string;
  instance: string;
  project: string;
  machineName: string;
  user: string | null;
  experiment: string | null;
  firstSeen: number;
  lastSeen: number;
  ended: boolean;
  hosts: HostPeriod[];
  upHours: number;
  usage: UsageFiguresView;
  resources: ResourceFiguresView;
}

export interface InstanceFilter {
  project: string | null;
  user: string | null;
  /** Epoch ms, from < to. */
  from: number;
  to: number;
}

/**
 * The instances up at any time in [from, to) (contract section 11), from the store's instance
 * index, with their figures over the range. A scoped token sees the instances whose INSTANCE series
 * it may read. Sorted by instance, then first hour seen.
 */
export async function readInstances(
  index: Pick<InstanceIndex, 'list'>,
  reader: UsageReader,
  access: Access,
  filter: InstanceFilter,
  hostHistory: Pick<HostHistoryStore, 'read'> = noHostHistory,
): Promise<InstanceRecordView[]> {
  const from = floorHour(filter.from);
  const to = ceilHour(filter.to);
  const view = await index.list(from, to);
  const matching = view.lives.filter(
    (life) =>
      (filter.project === null || life.project === filter.project) &&
      (filter.user === null || life.user === filter.user),
  );
  const visible = new Set(
    await access.visibleKeys('INSTANCE', [...new Set(matching.map((life) => life.instance))]),
  );
  const lives = matching.filter((life) => visible.has(life.instance));
  const [usages, histories] = await Promise.all([
    Promise.all(lives.map((life) => lifeUsage(reader, life, from, to))),
    lives.length === 0 ? new Map<string, InstanceHostHistory>() : hostHistory.read([...visible]),
  ]);
  return lives.map((life, i) => {
    // A source that says the instance ended for good (OpenNebula: DONE) ends it at once.
    const ended =
      hasEnded(life, view.throughHour) || (histories.get(life.instance)?.endedAt ?? null) !== null;
    const figures = usages[i];
    return {
      id: instanceRecordId(life),
      instance: life.instance,
      project: life.project,
      machineName: life.machineName,
      user: knownOrNull(life.user),
      experiment: knownOrNull(life.experiment),
      firstSeen: firstSeen(life),
      lastSeen: lastSeen(life),
      ended,
      hosts: hostsOf(life, ended, histories.get(life.instance)),
      upHours: presented(figures.upHours),
      usage: figuresView(figures),
      resources: resourcesView(figures),
    };
  });
}

const knownOrNull = (key: string): string | null => (key === UNKNOWN ? null : key);

const noHostHistory: Pick<HostHistoryStore, 'read'> = { read: async () => new Map() };

/**
 * The life's host periods. Where the source keeps a host history (OpenNebula: one period a
 * register, with its exact times and the reason it left the host, contract section 10), those of
 * its periods that overlap the life's hours; else the index's runs on each host, to the hour.
 */
function hostsOf(life: InstanceLife, ended: boolean, history: InstanceHostHistory | undefined): HostPeriod[] {
  const start = firstSeen(life);
  const end = lastSeen(life) + HOUR_MS;
  const overlapping = (history?.periods ?? [])
    .filter((period) => period.from < end && (period.to ?? Infinity) > start)
    .sort((a, b) => a.from - b.from);
  if (overlapping.length === 0) return hostPeriods(life, ended);
  return overlapping.map(({ host, from, to, reason }) => ({ host, from, to, reason }));
}

/**
 * A life's figures over [from, to): its INSTANCE series over the hours it had samples, its machine
 * type's part only. So two lives of one address (a host reused by another owner, as another
 * machine type) each count their own hours.
 */
async function lifeUsage(
  reader: UsageReader,
  life: InstanceLife,
  from: number,
  to: number,
): Promise<Figures> {
  const ranges = hourRanges(life)
    .map(([start, end]): [number, number] => [Math.max(start, from), Math.min(end, to)])
    .filter(([start, end]) => start < end);
  const pieces = ranges.flatMap(([start, end]) => planReads(start, end));
  const stored = await loadStoredFiles(reader, 'INSTANCE', life.instance, filesToRead(pieces));
  const sum = zeroBreakdown();
  for (const piece of pieces) addStoredFigures(sum, piece, stored);
  return sum.byMachine[machineKey(life.machineName)] ?? zeroFigures();
}

/** The hours with samples on any host, as disjoint [start, end) ranges. */
function hourRanges(life: InstanceLife): Array<[number, number]> {
  const ranges: Array<[number, number]> = [];
  for (const { from, to } of [...life.spans].sort((a, b) => a.from - b.from)) {
    const last = ranges[ranges.length - 1];
    if (last !== undefined && from <= last[1]) last[1] = Math.max(last[1], to);
    else ranges.push([from, to]);
  }
  return ranges;
}
