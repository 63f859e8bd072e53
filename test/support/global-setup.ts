import { ensureDebianPackage } from './lab/system';

/** Runs once before the suite: the system tools the tests drive must be on the machine. */
export default async function globalSetup(): Promise<void> {
  // The Prometheus lab backfills TSDB blocks with promtool and serves them with prometheus.
  await ensureDebianPackage('prometheus', ['prometheus', 'promtool']);
}
