/** What a sink's receiver answered for one delivery. */
export type DeliveryStatus = 'accepted' | 'refused' | 'unreachable' | 'unauthorized';

/** The latest delivery of one entry to a sink's receiver, kept so it can be shown and retried. */
export interface Delivery {
  /** The receiver's match key, as one string: a re-send of the same entry has the same key. */
  key: string;
  /** The UTC day the entry covers, `YYYY-MM-DD`. */
  day: string;
  project: string;
  /** When it was last sent, ISO. */
  sentAt: string;
  status: DeliveryStatus;
  /** The HTTP status of the answer; null when none came. */
  httpStatus: number | null;
  /** The start of the answer's body, or why none came. */
  answer: string;
  /** The amount last sent (PERSEUS's `value`, in the sink's unit); absent in records kept before it was. */
  value?: number;
  /** SHA-256 of the body last sent. */
  bodySha256: string;
  /** SHA-256 of the body last accepted, so a day whose figures changed is sent again. */
  acceptedSha256: string | null;
  /** Sends of this key so far. */
  attempts: number;
}

/** A store capability: the deliveries of each sink, by key. */
export interface DeliveryLog {
  /** The latest delivery of every key one sink has sent, in key order. */
  read(sink: string): Promise<Delivery[]>;
  /** Every sink that has recorded a delivery, sorted. */
  sinks(): Promise<string[]>;
  /** Records deliveries, each replacing the earlier one of its key; atomic. */
  record(sink: string, deliveries: readonly Delivery[]): Promise<void>;
}
