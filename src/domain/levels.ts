export const LEVELS = ['PROJECT', 'EXPERIMENT', 'MACHINE', 'USER', 'INSTANCE'] as const;
export type Level = (typeof LEVELS)[number];

/** The first field of a stored day entry names its key by level (contract section 3). */
export const KEY_FIELD: Record<Level, string> = {
  PROJECT: 'cloud_project_name',
  EXPERIMENT: 'experiment',
  MACHINE: 'machine_name',
  USER: 'user',
  INSTANCE: 'instance',
};

/** The key used where attribution finds no owner or experiment. */
export const UNKNOWN = 'unknown';
