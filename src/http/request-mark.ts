/** Where a request's context carries its mark; Apollo shallow-copies the context, which keeps it. */
const REQUEST_MARK = Symbol('carbonledger.requestMark');

/** What our Apollo plugins tell the HTTP layer about one request, read once Apollo has answered. */
export interface RequestMark {
  /** Root fields of a query whose answer may be cached (response-cache.ts). */
  rootFields?: string[];
  /** Cost the operation took from the answer budget, to give back once its answer is sent. */
  heldCost?: number;
}

/** The mark on a request's context, made on first use. */
export function markOf(context: object): RequestMark {
  const holder = context as { [REQUEST_MARK]?: RequestMark };
  return (holder[REQUEST_MARK] ??= {});
}
