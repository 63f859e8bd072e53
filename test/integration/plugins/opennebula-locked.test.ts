import { createConnection } from 'mysql2/promise';
import { DAY_MS } from '../../../src/domain/time';
import { ingestRange } from '../../../src/ingest/run';
import { ingestDeps } from '../../../src/ingest/wiring';
import { silentLogger } from '../../../src/log';
import { openJsonStore } from '../../../src/store/json';
import { tempDirs } from '../../support/fake-ingest';
import { mariaDbFleet } from '../../support/opennebula-fleet';
import { config, DAY, NOW, VMS } from '../../support/opennebula-checks';

const dirs = tempDirs('cl-one-locked-');
afterEach(() => dirs.cleanup());

/** Long enough that an ingestion waiting for the lock could not end before it is released. */
const LOCK_MS = 10_000;

describe('the OpenNebula source when MariaDB blocks on a lock', () => {
  it('ends the fetch at timeoutMs, failing its hours, without waiting for the lock to be released', async () => {
    const db = await mariaDbFleet(VMS);
    const lock = await createConnection({ uri: db.url });
    const dataDir = dirs.make();
    const store = await openJsonStore({ dataDir });
    let released = false;
    const release = setTimeout(() => {
      released = true;
      void lock.query('UNLOCK TABLES');
    }, LOCK_MS);
    try {
      // Another session holds vm_samples, as a backup or a repair of OpenNebula's database might.
      await lock.query('LOCK TABLES vm_samples WRITE');
      const cfg = config(dataDir, db.url);
      const deps = await ingestDeps(
        { ...cfg, sources: { opennebula: { ...cfg.sources.opennebula!, timeoutMs: 1000 } } },
        store,
        silentLogger,
        { now: () => NOW },
      );
      const report = await ingestRange(deps, DAY, DAY + DAY_MS);
      const endedBeforeRelease = !released;
      expect(report.okHours).toBe(0);
      expect(report.failed).toHaveLength(24);
      expect(endedBeforeRelease).toBe(true);
    } finally {
      clearTimeout(release);
      await lock.query('UNLOCK TABLES');
      await lock.end();
      await store.close();
      await db.drop();
    }
  });
});
