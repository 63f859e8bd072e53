/**
 * The value `record` holds under `key` itself, or undefined. Config maps are plain objects indexed
 * by names from data (a VM called `constructor-1`, a project `__proto__`): a bare `record[key]`
 * would answer with what every object inherits (`Object.prototype.constructor`).
 */
export function ownValue<V>(record: Readonly<Record<string, V>>, key: string): V | undefined {
  return Object.hasOwn(record, key) ? record[key] : undefined;
}
