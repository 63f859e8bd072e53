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

/** A store capability: each instance's host history, as its source last reported it. */
export interface HostHistoryStore {
  /** Replaces the host history of each instance given; others are left alone. */
  write(histories: ReadonlyMap<string, readonly HostPeriodRecord[]>): Promise<void>;
  /** The host history of each of `instances` that has one, periods in time order. */
  read(instances: readonly string[]): Promise<Map<string, HostPeriodRecord[]>>;
  /** Every instance with a host history, sorted. */
  list(): Promise<string[]>;
}
