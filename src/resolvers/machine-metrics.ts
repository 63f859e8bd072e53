import { Args, Ctx, Query, Resolver } from 'type-graphql';
import { MachineMetricsArgs } from '../schema/args';
import { MachineMetrics } from '../schema/machine-metrics';
import { type MachineMetricsView, readMachineMetrics } from '../services/machine-metrics';
import { MAX_METRICS_DAYS, validateDays } from '../services/validation';
import type { AppContext } from './context';

@Resolver()
export class MachineMetricsResolver {
  @Query(() => [MachineMetrics], {
    description:
      'Per machine type, or the one named (as labelled, `Artemis (Matlab)`, or as its machine key), averages ' +
      `over the last \`days\` (1 to ${MAX_METRICS_DAYS}) whole UTC days. ` +
      'Machine types with no instance-hours in the window are left out.',
  })
  machineMetrics(
    @Args() { machineName, days }: MachineMetricsArgs,
    @Ctx() { reader, clock, access }: AppContext,
  ): Promise<MachineMetricsView[]> {
    access.requireMachineMetrics();
    return readMachineMetrics(reader, clock, { machineName: machineName ?? null, days: validateDays(days) });
  }
}
