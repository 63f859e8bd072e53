import { gql, type TypedDocumentNode } from '@apollo/client';

import type { Granularity, Level } from './range';

/**
 * Every query the dashboard sends. Each asks for `id` wherever the schema has one, so Apollo's
 * cache keeps one copy of a series, a bucket or a workspace however many views show it.
 */

export type BucketStatus = 'OK' | 'PARTIAL' | 'FAILED' | 'MISSING';

export interface SeriesVariables {
  level: Level;
  key: string;
  from: string;
  to: string;
  granularity: Granularity | 'YEAR';
}

export interface Figures {
  busyKwh: number;
  idleKwh: number;
  totalKwh: number;
  busyGco2eq: number;
  idleGco2eq: number;
  totalGco2eq: number;
}

export interface Columns {
  start: string[];
  status: BucketStatus[];
  failedHours: number[];
  busyKwh: Array<number | null>;
  idleKwh: Array<number | null>;
  totalKwh: Array<number | null>;
  busyGco2eq: Array<number | null>;
  idleGco2eq: Array<number | null>;
  totalGco2eq: Array<number | null>;
}

export interface SeriesData {
  usageSeries: { id: string; key: string; granularity: Granularity; total: Figures; columns: Columns };
}

const FIGURES = `busyKwh idleKwh totalKwh busyGco2eq idleGco2eq totalGco2eq`;
const SERIES_PARAMETERS = `$level: UsageLevel!, $key: String!, $from: DateTime!, $to: DateTime!, $granularity: Granularity!`;
const SERIES_ARGUMENTS = `level: $level, key: $key, from: $from, to: $to, granularity: $granularity`;
const MANY_PARAMETERS = `$level: UsageLevel!, $keys: [String!]!, $from: DateTime!, $to: DateTime!, $granularity: Granularity!`;
const MANY_ARGUMENTS = `level: $level, keys: $keys, from: $from, to: $to, granularity: $granularity`;

export const SERIES: TypedDocumentNode<SeriesData, SeriesVariables> = gql`
  query DashboardSeries(${SERIES_PARAMETERS}) {
    usageSeries(${SERIES_ARGUMENTS}) {
      id
      key
      granularity
      total { ${FIGURES} }
      columns { start status failedHours ${FIGURES} }
    }
  }
`;

/** Resource energy and carbon of a bucket (contract section 8), once the API has them. */
export interface ResourceFigures {
  memoryKwh: number;
  storageKwh: number;
  networkKwh: number;
  memoryGco2eq: number;
  storageGco2eq: number;
  networkGco2eq: number;
  embodiedGco2eq: number;
}

export interface ResourcesData {
  usageSeries: {
    id: string;
    resourcesTotal: ResourceFigures;
    buckets: Array<{ id: string; resources: ResourceFigures | null }>;
  };
}

const RESOURCE_FIGURES = `memoryKwh storageKwh networkKwh memoryGco2eq storageGco2eq networkGco2eq embodiedGco2eq`;

export const RESOURCES: TypedDocumentNode<ResourcesData, SeriesVariables> = gql`
  query DashboardResources(${SERIES_PARAMETERS}) {
    usageSeries(${SERIES_ARGUMENTS}) {
      id
      resourcesTotal { ${RESOURCE_FIGURES} }
      buckets { id resources { ${RESOURCE_FIGURES} } }
    }
  }
`;

export interface MachinesData {
  usageSeries: {
    id: string;
    buckets: Array<{ id: string; byMachine: Array<{ machineName: string; usage: Figures }> }>;
  };
}

export const MACHINES: TypedDocumentNode<MachinesData, SeriesVariables> = gql`
  query DashboardMachines(${SERIES_PARAMETERS}) {
    usageSeries(${SERIES_ARGUMENTS}) {
      id
      buckets { id byMachine { machineName usage { ${FIGURES} } } }
    }
  }
`;

export const KEYS: TypedDocumentNode<{ usageKeys: string[] }, { level: Level }> = gql`
  query DashboardKeys($level: UsageLevel!) {
    usageKeys(level: $level)
  }
`;

export interface TopKeysData {
  usageSeriesMany: Array<{ id: string; key: string; total: Figures }>;
}

export const TOP_KEYS: TypedDocumentNode<TopKeysData, Omit<SeriesVariables, 'key'> & { keys: string[] }> =
  gql`
  query DashboardTopKeys(${MANY_PARAMETERS}) {
    usageSeriesMany(${MANY_ARGUMENTS}) {
      id
      key
      total { ${FIGURES} }
    }
  }
`;

export interface Workspace {
  id: string;
  instance: string;
  host: string;
  machineName: string;
  project: string;
  user: string | null;
  experiment: string | null;
  startedAt: string;
  busyKwh: number;
  idleKwh: number;
  busyGco2eq: number;
  idleGco2eq: number;
}

export interface WorkspacesData {
  activeWorkspaces: Workspace[];
  activeWorkspacesStatus: { takenAt: string | null; lastPollFailed: boolean; stale: boolean };
}

export const WORKSPACES: TypedDocumentNode<
  WorkspacesData,
  { project?: string; user?: string; machineName?: string }
> = gql`
  query DashboardWorkspaces($project: String, $user: String, $machineName: String) {
    activeWorkspaces(project: $project, user: $user, machineName: $machineName) {
      id
      instance
      host
      machineName
      project
      user
      experiment
      startedAt
      busyKwh
      idleKwh
      busyGco2eq
      idleGco2eq
    }
    activeWorkspacesStatus {
      takenAt
      lastPollFailed
      stale
    }
  }
`;

/** Which optional parts of the schema this service has (resources, instances, summaries). */
export interface CapabilitiesData {
  bucket: { fields: Array<{ name: string }> } | null;
  query: { fields: Array<{ name: string }> } | null;
}

export const CAPABILITIES: TypedDocumentNode<CapabilitiesData> = gql`
  query DashboardCapabilities {
    bucket: __type(name: "UsageBucket") {
      fields {
        name
      }
    }
    query: __type(name: "Query") {
      fields {
        name
      }
    }
  }
`;

/** One instance's life over the range (contract section 11). */
export interface InstanceRecord {
  id: string;
  instance: string;
  project: string;
  machineName: string;
  user: string | null;
  firstSeen: string;
  lastSeen: string;
  ended: boolean;
  hosts: Array<{ host: string; from: string; to: string | null; reason: string | null }>;
  usage: { totalKwh: number; totalGco2eq: number };
}

export interface InstancesData {
  instances: InstanceRecord[];
}

export const INSTANCES: TypedDocumentNode<
  InstancesData,
  { project?: string; user?: string; from: string; to: string }
> = gql`
  query DashboardInstances($project: String, $user: String, $from: DateTime!, $to: DateTime!) {
    instances(project: $project, user: $user, from: $from, to: $to) {
      id
      instance
      project
      machineName
      user
      firstSeen
      lastSeen
      ended
      hosts {
        host
        from
        to
        reason
      }
      usage {
        totalKwh
        totalGco2eq
      }
    }
  }
`;

/** One user's day, SlipStream's shape plus energy and carbon (contract section 11). */
export interface DailySummary {
  id: string;
  date: string;
  vmMinutes: number;
  ramGbMinutes: number;
  diskGbMinutes: number;
  complete: boolean;
  usage: { totalKwh: number; totalGco2eq: number };
}

export interface SummariesData {
  dailySummaries: DailySummary[];
}

export const SUMMARIES: TypedDocumentNode<SummariesData, { user: string; from: string; to: string }> = gql`
  query DashboardSummaries($user: String!, $from: DateTime!, $to: DateTime!) {
    dailySummaries(user: $user, from: $from, to: $to) {
      id
      date
      vmMinutes
      ramGbMinutes
      diskGbMinutes
      complete
      usage {
        totalKwh
        totalGco2eq
      }
    }
  }
`;
