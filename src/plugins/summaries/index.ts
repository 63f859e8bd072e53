import type { Config } from '../../config';
import type { SummaryStores } from '../../store/capabilities';
import type { PluginHost } from '../host';
import { summariesPlugin } from './job';

export { SUMMARIES_PLUGIN, summariesPlugin } from './job';
export { summariseDate } from './summarise';

/** The daily jobs of contract section 11: summaries on `schedule.summaries`. */
export function registerSummaries(host: PluginHost, config: Config, stores: SummaryStores): void {
  host.register(
    summariesPlugin({ schedule: config.schedule.summaries, summaries: stores.summaries }),
    config.summaries,
  );
}
