import type { CarbonIntensitySource } from './ports';
import type { Store } from '../store/store';

/**
 * `carbon`, except that an hour it could only estimate keeps the intensity the ledger already
 * records for it, unless that was the very same kind of estimate (the same source): re-ingesting
 * yesterday while the carbon API is away must not swap its intensities for the flat fallback, as
 * a failure of Prometheus never replaces good figures. The ledger is read only when some hour was
 * estimated.
 */
export function keepingRecordedIntensities(
  carbon: CarbonIntensitySource,
  store: Store,
): CarbonIntensitySource {
  return {
    async intensities(fromHour, toHour, signal) {
      const found = await carbon.intensities(fromHour, toHour, signal);
      const estimated = [...found].filter(([, intensity]) => intensity.estimated).map(([hour]) => hour);
      if (estimated.length === 0) return found;
      const ledger = await store.readLedger(fromHour, toHour);
      for (const hour of estimated) {
        const record = ledger.get(hour);
        if (record?.status === 'ok' && record.intensity.source !== found.get(hour)!.source) {
          found.set(hour, record.intensity);
        }
      }
      return found;
    },
  };
}
