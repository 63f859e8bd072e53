// Import order is the order of the Query fields in the printed schema: the contract's.
import { UsageSeriesResolver } from './usage';
import { MachineMetricsResolver } from './machine-metrics';
import { ActiveWorkspacesResolver } from './active-workspaces';
import { InstancesResolver } from './instances';

export const resolvers = [
  UsageSeriesResolver,
  MachineMetricsResolver,
  ActiveWorkspacesResolver,
  InstancesResolver,
] as const;

export { type AppContext, createRequestContext, type RequestContextDeps } from './context';
