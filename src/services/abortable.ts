/**
 * Guards calls with a request's deadline: each one rejects with the signal's reason as soon as it
 * aborts, and none starts after. The work itself is not stopped (a file read runs to its end), but
 * nothing waits for it any more, so the request answers instead of hanging.
 */
export function abortable(signal: AbortSignal | undefined): <T>(work: () => Promise<T>) => Promise<T> {
  if (!signal) return (work) => work();
  // One listener per request rather than per call: a year of hourly reads is hundreds of calls.
  const aborted = new Promise<never>((_resolve, reject) => {
    signal.addEventListener('abort', () => reject(signal.reason), { once: true });
  });
  // Seen through Promise.race by every guarded call; unobserved when no call is in flight.
  aborted.catch(() => undefined);
  return (work) => (signal.aborted ? Promise.reject(signal.reason) : Promise.race([work(), aborted]));
}
