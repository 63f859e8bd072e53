/** One period an instance ran on one host. */
export interface HostPeriodRecord {
  host: string;
  /** Epoch ms. */
  from: number;
  /** Epoch ms; null while it still runs there. */
  to: number | null;
  /** Why it left the host, when the source says (OpenNebula's register reason by name). */
  reason: string | null;
}

/** What a source knows of an instance's life beyond its samples. */
export interface InstanceHostHistory {
  /** In time order. */
  periods: HostPeriodRecord[];
  /** When the source says it ended for good (OpenNebula: DONE), epoch ms; else null. */
  endedAt: number | null;
}

/** A store capability: each instance's host history, as its source last reported it. */
export interface HostHistoryStore {
  /** Replaces the host history of each instance given; others are left alone. */
  write(histories: ReadonlyMap<string, InstanceHostHistory>): Promise<void>;
  /** The host history of each of `instances` that has one. */
  read(instances: readonly string[]): Promise<Map<string, InstanceHostHistory>>;
  /** Every instance with a host history, sorted. */
  list(): Promise<string[]>;
}
