// Import order is the order of the Query fields in the printed schema: the contract's.
import { UsageSeriesResolver } from './usage';
import { MachineMetricsResolver } from './machine-metrics';
import { ActiveWorkspacesResolver } from './active-workspaces';
import { InstancesResolver } from './instances';
import { DailySummariesResolver } from './daily-summaries';
import { SummaryEmailResolver } from './summary-email';

export const resolvers = [
  UsageSeriesResolver,
  MachineMetricsResolver,
  ActiveWorkspacesResolver,
  InstancesResolver,
  DailySummariesResolver,
  SummaryEmailResolver,
] as const;

export { type AppContext, createRequestContext, type RequestContextDeps } from './context';
