import { parseConfig } from '../../../src/config';
import { fixedClock } from '../../../src/domain/clock';
import { INGEST_PLUGIN } from '../../../src/ingest/plugin';
import { RECONCILE_PLUGIN } from '../../../src/ingest/reconcile';
import { registerIngestion } from '../../../src/ingest/schedule';
import { silentLogger } from '../../../src/log';
import { PluginHost } from '../../../src/plugins/host';
import type { Store } from '../../../src/store/store';
import { manualScheduler } from '../../support/manual-scheduler';

describe('registerIngestion', () => {
  it('puts the hourly ingest and the daily reconcile on their configured crons', () => {
    const scheduler = manualScheduler();
    const host = new PluginHost({ store: {} as Store, clock: fixedClock(0), log: silentLogger, scheduler });
    registerIngestion(host, parseConfig({ schedule: { ingest: '7 * * * *' } }));
    host.start();
    expect(scheduler.jobs().sort()).toEqual(['0 2 * * *', '7 * * * *']);
    expect([host.isRunning(INGEST_PLUGIN), host.isRunning(RECONCILE_PLUGIN)]).toEqual([false, false]);
  });
});
