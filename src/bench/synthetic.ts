import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { writeBenchRegistry, type BenchFleetSpec } from './fleet';
import { ingestFleet, type IngestFigures } from './ingest';
import { databaseFigures, freshBenchDatabase } from './postgres';
import { BENCH_ROOT } from './prometheus';
import { verdict } from './format';

/** The config wants a Prometheus; the synthetic source never asks it (port 9 is discard). */
const UNASKED_PROMETHEUS = 'http://127.0.0.1:9';

const line = (name: string, figures: IngestFigures): string =>
  `  ${name.padEnd(17)}  ${figures.seconds.toFixed(1).padStart(8)} s  CPU ${figures.cpuSeconds!.toFixed(1)} s, ` +
  `peak RSS ${figures.maxRssMb!.toFixed(0)} MB (target < 300 MB: ${verdict(figures.maxRssMb! < 300)}), ` +
  `${figures.instanceHours!.toLocaleString('en')} instance-hours, ${figures.failedHours} failed hours`;

/**
 * `npm run bench -- --synthetic`: the ingestion of the fleet from `benchFleetSource` (no Prometheus,
 * so no floor): what the ingestion itself costs and holds in memory at a size whose backfill would
 * take longer than the run, into a fresh JSON store and, with `postgres`, a fresh database.
 */
export async function syntheticIngestBench(spec: BenchFleetSpec, postgres: boolean): Promise<void> {
  await mkdir(BENCH_ROOT, { recursive: true });
  const dir = await mkdtemp(join(BENCH_ROOT, `synthetic-${process.pid}-`));
  try {
    const registryFile = join(dir, 'workspaces.json');
    await writeBenchRegistry(spec, registryFile);
    console.log(
      '\nIngestion of the synthetic fleet (instance-hours made in the worker; no Prometheus, no floor)',
    );
    const json = await ingestFleet(
      UNASKED_PROMETHEUS,
      spec,
      join(dir, 'data'),
      registryFile,
      undefined,
      true,
    );
    console.log(line('JSON store', json));
    if (postgres) {
      const url = await freshBenchDatabase(spec);
      const figures = await ingestFleet(
        UNASKED_PROMETHEUS,
        spec,
        join(dir, 'pg-data'),
        registryFile,
        url,
        true,
      );
      const stored = await databaseFigures(url);
      console.log(
        `${line('PostgreSQL store', figures)}; database ${stored.megabytes.toFixed(0)} MB, ` +
          `${stored.hourRows.toLocaleString('en')} hour rows (the server's own CPU not counted)`,
      );
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
