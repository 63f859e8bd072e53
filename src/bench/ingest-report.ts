import { type BenchFleetSpec } from './fleet';
import {
  asksResources,
  prometheusFloor,
  seedMethod,
  type IngestFigures,
  type QueryRangeForm,
} from './ingest';
import { ratio, verdict, seconds as s } from './format';

/**
 * The JSON store's ingestion against the Prometheus floor (the better of two replays of its
 * requests), the seed's method, and what its resource series cost Prometheus alone.
 */
export async function printJsonIngest(options: {
  prometheusUrl: string;
  spec: BenchFleetSpec;
  ingest: IngestFigures & { asked: QueryRangeForm[] };
  floors: [IngestFigures, IngestFigures];
  seedHours: number;
}): Promise<void> {
  const { prometheusUrl, spec, ingest, floors } = options;
  const floor = floors[0].seconds <= floors[1].seconds ? floors[0] : floors[1];
  const seed = await seedMethod(prometheusUrl, spec, options.seedHours);
  console.log('\nIngestion of the whole fleet (all levels, into a fresh JSON store)');
  console.log(
    `  Prometheus floor   ${s(floor.seconds).padStart(9)}  ${String(floor.requests).padStart(8)} requests  (best of ${s(floors[0].seconds)}, ${s(floors[1].seconds)})`,
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
  console.log(
    `  ingestion / floor  ${ratio(ingest.seconds, floor.seconds)}  (target ≤ 1.5×: ${verdict(ingest.seconds / floor.seconds <= 1.5)})`,
  );
  console.log(
    `  seed / ingestion   ${ratio(seed.seconds, ingest.seconds)}  (target ≥ 50×: ${verdict(seed.seconds / ingest.seconds >= 50)})`,
  );
  // The seed's figure is its fetching alone: this sets its requests against ours, store aside.
  console.log(`  seed / floor       ${ratio(seed.seconds, floor.seconds)}  (fetching alone, for reference)`);
  // The resource series (memory, disk, network, upHours) beside CPU: what Prometheus spends
  // answering them alone, replayed as the ingestion asked them.
  const resources = await prometheusFloor(prometheusUrl, ingest.asked.filter(asksResources));
  console.log(
    `  resource series    ${s(resources.seconds).padStart(9)}  ${String(resources.requests).padStart(8)} requests  ` +
      `(their floor: ${ratio(resources.seconds, floor.seconds)} of the whole floor; ` +
      `the ingestion / floor ratio above includes them)`,
  );
  const full = spec.instances >= 1000;
  console.log(
    `  peak RSS           ${ingest.maxRssMb!.toFixed(0)} MB  (target < 300 MB at 1,000 × 365: ${full ? verdict(ingest.maxRssMb! < 300) : 'not the full fleet'})`,
  );
}
