// Import order is the order of the Query fields in the printed schema: the contract's.
import { UsageSeriesResolver } from './usage';
import { MachineMetricsResolver } from './machine-metrics';
import { ActiveWorkspacesResolver } from './active-workspaces';
import { InstancesResolver } from './instances';
import { DailySummariesResolver } from './daily-summaries';

export const resolvers = [
  UsageSeriesResolver,
  MachineMetricsResolver,
  ActiveWorkspacesResolver,
  InstancesResolver,
  DailySummariesResolver,
] as const;

export { type AppContext, createRequestContext, type RequestContextDeps } from './context';
