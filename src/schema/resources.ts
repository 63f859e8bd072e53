import { Field, Float, ObjectType } from 'type-graphql';
import { ENERGY_METRICS, METRICS } from '../domain/metrics';

/**
 * Resources beyond CPU (contract section 8). Its fields come from the metric catalogue: each
 * resource figure, then each averaged one's average, then the operational sums.
 */
@ObjectType({
  simpleResolvers: true,
  description:
    'Memory, disk and network beside CPU, their energy and carbon, and embodied carbon (kept apart ' +
    'from operational). Memory and disk are byte-hours integrals; their averages are over upHours.',
})
export class ResourceFigures {}

const fieldOf = (name: string, description: string): void =>
  Field(() => Float, { description })(ResourceFigures.prototype, name);

// In the contract's order: each figure (an averaged one followed by its average), the operational
// sums, and embodied carbon last, apart from them.
for (const metric of METRICS) {
  if (metric.group !== 'resources' || metric.kind === 'embodied') continue;
  fieldOf(metric.name, `${metric.description} [${metric.unit}]`);
  if ('average' in metric) fieldOf(metric.average, `${metric.name} / upHours (0 when upHours is 0) [B]`);
}
fieldOf('operationalKwh', ENERGY_METRICS.map((metric) => metric.name).join(' + '));
fieldOf('operationalGco2eq', ENERGY_METRICS.map((metric) => metric.carbon).join(' + '));
for (const metric of METRICS) {
  if (metric.kind === 'embodied') fieldOf(metric.name, `${metric.description} [${metric.unit}]`);
}
