/**
 * The SDL of contract section 4 (CONTRACT.md), copied here so the check runs where the contract
 * file is not at hand. Update it only together with the contract.
 */
export const CONTRACT_SDL = /* GraphQL */ `
  scalar DateTime # ISO-8601, UTC
  enum UsageLevel {
    PROJECT
    EXPERIMENT
    MACHINE
    USER
    INSTANCE
  }
  enum Granularity {
    HOUR
    DAY
    MONTH
    YEAR
  }
  enum BucketStatus {
    OK
    PARTIAL
    FAILED
    MISSING
  }

  type UsageFigures {
    busyCpuSeconds: Float!
    idleCpuSeconds: Float!
    busyKwh: Float!
    idleKwh: Float!
    busyGco2eq: Float!
    idleGco2eq: Float!
    totalKwh: Float!
    totalGco2eq: Float!
  }
  type MachineUsage {
    machineName: String!
    usage: UsageFigures!
  }
  type UsageBucket {
    start: DateTime!
    end: DateTime!
    status: BucketStatus! # from the ledger: OK: every hour of the bucket ok; FAILED: none ok, some failed;
    # MISSING: no hour ingested at all; PARTIAL: anything else
    failedHours: Int!
    usage: UsageFigures # sum over the bucket's ok hours (zeros where the key had no usage); null when no hour is ok
    byMachine: [MachineUsage!]!
  }
  type UsageSeries {
    id: ID!
    level: UsageLevel!
    key: String!
    granularity: Granularity!
    from: DateTime!
    to: DateTime!
    buckets: [UsageBucket!]! # every UTC bucket that overlaps [from, to), in order, none skipped
    total: UsageFigures! # sum over the ok hours in [from, to)
  }
  type Stat {
    average: Float!
  }
  type BusyIdle {
    busy: Stat!
    idle: Stat!
  }
  type MachineMetrics {
    id: ID!
    machineName: String!
    energyKwh: BusyIdle! # kWh per instance-hour, averaged over the window
    carbonGco2eq: BusyIdle!
    instanceHours: Int! # instance-hours with data behind the averages
  }
  type ActiveWorkspace {
    id: ID!
    instance: String!
    host: String!
    machineName: String!
    project: String!
    user: String
    experiment: String
    startedAt: DateTime! # node_boot_time_seconds
    busyKwh: Float!
    idleKwh: Float!
    busyGco2eq: Float!
    idleGco2eq: Float! # since startedAt
  }
  type Query {
    usageSeries(
      level: UsageLevel!
      key: String!
      from: DateTime!
      to: DateTime!
      granularity: Granularity!
    ): UsageSeries!
    usageSeriesMany(
      level: UsageLevel!
      keys: [String!]!
      from: DateTime!
      to: DateTime!
      granularity: Granularity!
    ): [UsageSeries!]! # one per key, in the order given
    usageKeys(level: UsageLevel!): [String!]! # sorted
    machineMetrics(machineName: String, days: Int = 365): [MachineMetrics!]!
    activeWorkspaces(project: String, user: String, machineName: String): [ActiveWorkspace!]!
  }
`;
