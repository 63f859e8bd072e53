import { writeFile } from 'node:fs/promises';
import { parseConfig } from '../config';
import { boundHeapGrowthForBackfill } from '../ingest/heap';
import { ingestRange } from '../ingest/run';
import { ingestDeps } from '../ingest/wiring';
import { silentLogger } from '../log';
import { openStore } from '../store/open';
import type { BenchFleetSpec } from './fleet';
import type { QueryRangeForm } from './ingest';
import { benchFleetSource } from './synthetic-source';

/**
 * A child process of the bench: one ingestion of [from, to) from a Prometheus into a JSON store
 * (or, given `databaseUrl`, a PostgreSQL store), wired as `carbonledger ingest` wires it, so its
 * peak RSS is the ingestion's alone.
 * argv: prometheusUrl registryFile dataDir fromIso toIso requestsFile [databaseUrl]. Prints one
 * JSON line, and writes the form of every query_range request it made to `requestsFile`, for the
 * floor to replay. With `BENCH_SYNTHETIC_FLEET` (a fleet spec as JSON) the instance-hours come from
 * `benchFleetSource` instead of Prometheus.
 */
async function main(): Promise<void> {
  const [url, registryFile, dataDir, fromIso, toIso, requestsFile, databaseUrl] = process.argv.slice(2);
  const requests: QueryRangeForm[] = [];
  const realFetch = globalThis.fetch;
  globalThis.fetch = (input, init) => {
    if (String(input).endsWith('/api/v1/query_range') && typeof init?.body === 'string') {
      requests.push(Object.fromEntries(new URLSearchParams(init.body)));
    }
    return realFetch(input, init);
  };
  const config = parseConfig({
    prometheus: { url },
    workspaces: { file: registryFile },
    store: databaseUrl ? { kind: 'postgres', url: databaseUrl, dataDir } : { kind: 'json', dataDir },
  });
  // As `carbonledger ingest` does.
  boundHeapGrowthForBackfill();
  const store = await openStore(config.store, silentLogger);
  const deps = await ingestDeps(config, store, silentLogger, { now: () => Date.now() });
  const synthetic = process.env.BENCH_SYNTHETIC_FLEET;
  if (synthetic !== undefined) deps.source = benchFleetSource(JSON.parse(synthetic) as BenchFleetSpec);
  const started = process.hrtime.bigint();
  const report = await ingestRange(deps, Date.parse(fromIso), Date.parse(toIso));
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  await store.close();
  await writeFile(requestsFile, JSON.stringify(requests));
  const usage = process.resourceUsage();
  process.stdout.write(
    `${JSON.stringify({
      seconds,
      hours: report.hours,
      okHours: report.okHours,
      failedHours: report.failed.length,
      instanceHours: report.instanceHours,
      maxRssMb: usage.maxRSS / 1024,
      cpuSeconds: (usage.userCPUTime + usage.systemCPUTime) / 1e6,
    })}\n`,
  );
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
