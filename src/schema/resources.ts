import { Field, Float, ObjectType } from 'type-graphql';
import { AVERAGED_METRICS, ENERGY_METRICS, METRICS, RESOURCE_VIEW_FIELDS } from '../domain/metrics';

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

const DESCRIPTIONS = new Map<string, string>([
  ...METRICS.map((metric) => [metric.name, `${metric.description} [${metric.unit}]`] as const),
  ...AVERAGED_METRICS.map(
    (metric) => [metric.average, `${metric.name} / upHours (0 when upHours is 0) [B]`] as const,
  ),
  ['operationalKwh', ENERGY_METRICS.map((metric) => metric.name).join(' + ')],
  ['operationalGco2eq', ENERGY_METRICS.map((metric) => metric.carbon).join(' + ')],
]);

for (const name of RESOURCE_VIEW_FIELDS) fieldOf(name, DESCRIPTIONS.get(name)!);
