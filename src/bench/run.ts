import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rename, rm } from 'node:fs/promises';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { ensureDebianPackage } from './debian';
import { benchFleet, writeBenchRegistry, type BenchFleetSpec } from './fleet';
import {
  asksResources,
  ingestFleet,
  prometheusFloor,
  seedMethod,
  warmUpRequests,
  type IngestFigures,
} from './ingest';
import { backfillFleet, BENCH_ROOT, startBenchPrometheus } from './prometheus';
import { runApiBench } from './api';
import { runDashboardBench } from './dashboard';
import { existingBenchDatabase, postgresIngestBench, promqlBench } from './postgres';
import { syntheticIngestBench } from './synthetic';

/**
 * `npm run bench`: builds (or reuses) the fleet's Prometheus data, measures ingestion against
 * Prometheus's own time and the seed's method, then the API against an HTTP floor and a framework
 * floor. Every target is a ratio to a floor measured in the same run on the same machine.
 */
const USAGE = `usage: npm run bench -- [--instances N] [--days D] [--full] [--synthetic] [--only ingest|api|dashboard] [--duration S] [--seed-hours H] [--store json|postgres] [--promql-days D]
  --instances  VMs in the fleet (default 100; BENCH_INSTANCES)
  --days       days of data from 2025-01-01 (default 365; BENCH_DAYS)
  --full       the full fleet: 1,000 VMs × 365 days
  --synthetic  ingestion only, its instance-hours made in the worker (no Prometheus, no floor): the
               ingestion's own time and peak RSS at sizes whose backfill would take too long
  --only       run only the ingestion, the API or the dashboard bench
  --duration   seconds per autocannon run (default 10)
  --seed-hours hours sampled to time the seed's one-request-per-project-per-hour method (default 24)
  --store      postgres: also ingest into a fresh database on BENCH_DATABASE_URL's server (default the
               machine's), run the API bench over it, and ask Prometheus the year-of-hours question
  --promql-days days of the realistic-density fleet Prometheus is asked about (default 365)`;

const ratio = (a: number, b: number): string => `${(a / b).toFixed(2)}×`;
const s = (seconds: number): string => `${seconds.toFixed(1)} s`;

function verdict(ok: boolean): string {
  return ok ? 'met' : 'MISSED';
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      instances: { type: 'string' },
      days: { type: 'string' },
      full: { type: 'boolean', default: false },
      synthetic: { type: 'boolean', default: false },
      only: { type: 'string' },
      duration: { type: 'string', default: '10' },
      'seed-hours': { type: 'string', default: '24' },
      store: { type: 'string', default: 'json' },
      'promql-days': { type: 'string', default: '365' },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    console.log(USAGE);
    return;
  }
  const instances = Number(values.instances ?? process.env.BENCH_INSTANCES ?? (values.full ? 1000 : 100));
  const days = Number(values.days ?? process.env.BENCH_DAYS ?? 365);
  if (!(Number.isInteger(instances) && instances > 0 && Number.isInteger(days) && days > 0)) {
    console.error(USAGE);
    process.exit(2);
  }
  const only = values.only;
  if (values.store !== 'json' && values.store !== 'postgres') {
    console.error(USAGE);
    process.exit(2);
  }
  const postgres = values.store === 'postgres';
  let databaseUrl: string | undefined;
  if (only === 'dashboard') return runDashboardBench();
  const spec: BenchFleetSpec = benchFleet(instances, days);
  console.log(
    `carbonledger bench: ${instances} instances × ${days} days, scrape every ${spec.scrapeIntervalMs / 60_000} min; ` +
      `${cpus().length} cores (${cpus()[0]?.model ?? '?'}), ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}`,
  );
  if (values.synthetic) return syntheticIngestBench(spec, postgres);

  // As the test setup does: a fresh machine runs the bench without a manual install.
  await ensureDebianPackage('prometheus', ['prometheus', 'promtool']);
  const backfill = await backfillFleet(spec, (line) => console.log(`  [fleet] ${line}`));
  console.log(
    `fleet: ${backfill.samples.toLocaleString('en')} samples ` +
      (backfill.seconds === null ? '(cached blocks)' : `generated and backfilled in ${s(backfill.seconds)}`),
  );
  const prometheus = await startBenchPrometheus(backfill.blocksDir);
  const storeDir = join(BENCH_ROOT, `store-${instances}x${days}`);
  try {
    if (only !== 'api' || !existsSync(storeDir)) {
      await mkdir(BENCH_ROOT, { recursive: true });
      const dir = await mkdtemp(join(BENCH_ROOT, `ingest-${process.pid}-`));
      const registryFile = join(dir, 'workspaces.json');
      await writeBenchRegistry(spec, registryFile);
      // Warm Prometheus (page cache, chunk decoding) so no measurement pays for a cold start.
      await prometheusFloor(prometheus.url, warmUpRequests(spec));
      const ingest = await ingestFleet(prometheus.url, spec, join(dir, 'data'), registryFile);
      const floor1 = await prometheusFloor(prometheus.url, ingest.asked);
      const floor2 = await prometheusFloor(prometheus.url, ingest.asked);
      const floor: IngestFigures = floor1.seconds <= floor2.seconds ? floor1 : floor2;
      if (only !== 'api') {
        const seed = await seedMethod(prometheus.url, spec, Number(values['seed-hours']));
        console.log('\nIngestion of the whole fleet (all levels, into a fresh JSON store)');
        console.log(
          `  Prometheus floor   ${s(floor.seconds).padStart(9)}  ${String(floor.requests).padStart(8)} requests  (best of ${s(floor1.seconds)}, ${s(floor2.seconds)})`,
        );
        console.log(
          `  carbonledger       ${s(ingest.seconds).padStart(9)}  ${String(ingest.requests).padStart(8)} requests  ` +
            `peak RSS ${ingest.maxRssMb!.toFixed(0)} MB, CPU ${s(ingest.cpuSeconds!)}, ` +
            `${ingest.instanceHours!.toLocaleString('en')} instance-hours, ${ingest.failedHours} failed hours`,
        );
        console.log(
          `  seed method        ${s(seed.seconds).padStart(9)}  ${String(seed.requests).padStart(8)} requests  ` +
            `(extrapolated from ${seed.sampledRequests} requests over ${seed.sampledHours} sampled hours, ${s(seed.sampledSeconds)})`,
        );
        const vsFloor = ingest.seconds / floor.seconds;
        const vsSeed = seed.seconds / ingest.seconds;
        console.log(
          `  ingestion / floor  ${ratio(ingest.seconds, floor.seconds)}  (target ≤ 1.5×: ${verdict(vsFloor <= 1.5)})`,
        );
        console.log(
          `  seed / ingestion   ${ratio(seed.seconds, ingest.seconds)}  (target ≥ 50×: ${verdict(vsSeed >= 50)})`,
        );
        // The seed's figure is its fetching alone: this sets its requests against ours, store aside.
        console.log(
          `  seed / floor       ${ratio(seed.seconds, floor.seconds)}  (fetching alone, for reference)`,
        );
        // The resource series (memory, disk, network, upHours) beside CPU: what Prometheus spends
        // answering them alone, replayed as the ingestion asked them.
        const resources = await prometheusFloor(prometheus.url, ingest.asked.filter(asksResources));
        console.log(
          `  resource series    ${s(resources.seconds).padStart(9)}  ${String(resources.requests).padStart(8)} requests  ` +
            `(their floor: ${ratio(resources.seconds, floor.seconds)} of the whole floor; ` +
            `the ingestion / floor ratio above includes them)`,
        );
        console.log(
          `  peak RSS           ${ingest.maxRssMb!.toFixed(0)} MB  (target < 300 MB at 1,000 × 365: ${instances >= 1000 ? verdict(ingest.maxRssMb! < 300) : 'not the full fleet'})`,
        );
      }
      if (postgres) {
        databaseUrl = await postgresIngestBench({
          prometheusUrl: prometheus.url,
          spec,
          dir,
          registryFile,
          floorSeconds: floor.seconds,
          json: ingest,
        });
      }
      await rm(storeDir, { recursive: true, force: true });
      await rename(dir, storeDir);
    }
  } finally {
    await prometheus.stop();
  }
  if (only !== 'ingest') {
    if (postgres) databaseUrl ??= await existingBenchDatabase(spec);
    await runApiBench({
      spec,
      dataDir: join(storeDir, 'data'),
      databaseUrl,
      durationSeconds: Number(values.duration),
    });
  }
  if (postgres && only !== 'ingest') await promqlBench(Number(values['promql-days']));
  if (only === undefined) await runDashboardBench();
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
