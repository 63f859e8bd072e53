import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rename, rm } from 'node:fs/promises';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { ensureDebianPackage } from './debian';
import { benchFleet, writeBenchRegistry, type BenchFleetSpec } from './fleet';
import { ingestFleet, prometheusFloor, warmUpRequests } from './ingest';
import { printJsonIngest } from './ingest-report';
import { backfillFleet, BENCH_ROOT, startBenchPrometheus } from './prometheus';
import { runApiBench } from './api';
import { runDashboardBench } from './dashboard';
import { existingBenchDatabase, ingestIntoFreshDatabase, printPostgresIngest, promqlBench } from './postgres';
import { syntheticIngestBench } from './synthetic';
import { seconds as s } from './format';

/**
 * `npm run bench`: builds (or reuses) the fleet's Prometheus data, measures ingestion against
 * Prometheus's own time and the seed's method, then the API against an HTTP floor and a framework
 * floor. Every target is a ratio to a floor measured in the same run on the same machine.
 */
const USAGE = `usage: npm run bench -- [--instances N] [--days D] [--full] [--synthetic] [--only ingest|api|dashboard] [--duration S] [--seed-hours H] [--store json|postgres [--no-json]] [--promql-days D]
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
  --promql-days days of the realistic-density fleet Prometheus is asked about (default 365)
  --no-json    with --store postgres: skip the JSON store's ingestion (the floor replays PostgreSQL's requests)`;

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
      'no-json': { type: 'boolean', default: false },
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
  const noJson = values['no-json'];
  if (noJson && !postgres) {
    console.error(`--no-json needs --store postgres\n${USAGE}`);
    process.exit(2);
  }
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
      const freshDatabase = () =>
        ingestIntoFreshDatabase({ prometheusUrl: prometheus.url, spec, dir, registryFile });
      const json = noJson
        ? undefined
        : await ingestFleet(prometheus.url, spec, join(dir, 'data'), registryFile);
      const early = json === undefined ? await freshDatabase() : undefined;
      const asked = (json ?? early!.ingest).asked;
      const floor1 = await prometheusFloor(prometheus.url, asked);
      const floor2 = await prometheusFloor(prometheus.url, asked);
      if (json !== undefined && only !== 'api') {
        await printJsonIngest({
          prometheusUrl: prometheus.url,
          spec,
          ingest: json,
          floors: [floor1, floor2],
          seedHours: Number(values['seed-hours']),
        });
      }
      if (postgres) {
        const ingested = early ?? (await freshDatabase());
        printPostgresIngest(ingested, Math.min(floor1.seconds, floor2.seconds), json);
        databaseUrl = ingested.url;
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
