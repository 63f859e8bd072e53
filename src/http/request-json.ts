/**
 * Bounds on the JSON a GraphQL request carries (`variables`, `extensions`, `operationName`, or
 * the body itself), checked before anything walks it. `JSON.parse` reads any depth, but
 * `JSON.stringify` (the answer cache's key), graphql-js's value printing and most tree walks
 * recurse, and overflow the stack on a few thousand levels. This API's inputs nest two levels at
 * most (a list of keys in the variables), so a bound far above that refuses only hostile requests.
 */
export const MAX_JSON_NESTING = 32;

/** Fields of a GraphQL request whose JSON Apollo reads from a GET's query string. */
const JSON_SEARCH_PARAMS = ['variables', 'extensions'] as const;

/**
 * How deeply `value` nests arrays and objects (a scalar is 0, `[]` is 1), walked without
 * recursion; once past `stopAbove` it stops and returns what it reached, so a deep value costs
 * no more than a bounded one.
 */
export function jsonNesting(value: unknown, stopAbove = Infinity): number {
  let deepest = 0;
  const pending: Array<{ value: unknown; depth: number }> = [{ value, depth: 0 }];
  while (pending.length > 0) {
    const next = pending.pop()!;
    if (typeof next.value !== 'object' || next.value === null) continue;
    const depth = next.depth + 1;
    if (depth > deepest) {
      deepest = depth;
      if (deepest > stopAbove) return deepest;
    }
    const children = Array.isArray(next.value) ? next.value : Object.values(next.value);
    for (const child of children) {
      if (typeof child === 'object' && child !== null) pending.push({ value: child, depth });
    }
  }
  return deepest;
}

/**
 * Why a request's JSON cannot be taken (naming the field), or undefined when it can. `body` is a
 * POST's parsed JSON body (undefined for a GET or a body that is not JSON); `search` the query
 * string, whose `variables` and `extensions` Apollo parses as JSON.
 */
export function requestJsonProblem(body: unknown, search: string): string | undefined {
  // The body's own object is a level of its own.
  if (jsonNesting(body, MAX_JSON_NESTING + 1) > MAX_JSON_NESTING + 1) {
    const field = Array.isArray(body) ? undefined : deepestField(body as Record<string, unknown>);
    return tooDeep(field === undefined ? 'The request body' : `The request's "${field}"`);
  }
  const params = new URLSearchParams(search);
  for (const name of JSON_SEARCH_PARAMS) {
    const text = params.get(name);
    if (text === null) continue;
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch {
      // Apollo answers that one itself, naming the parameter.
      continue;
    }
    if (jsonNesting(value, MAX_JSON_NESTING) > MAX_JSON_NESTING)
      return tooDeep(`The query string's "${name}"`);
  }
  return undefined;
}

/** The field of a request body nested too deeply, if any one is. */
function deepestField(body: Record<string, unknown>): string | undefined {
  return Object.keys(body).find((key) => jsonNesting(body[key], MAX_JSON_NESTING) > MAX_JSON_NESTING);
}

function tooDeep(what: string): string {
  return `${what} nests arrays or objects more than ${MAX_JSON_NESTING} levels deep; this API's inputs nest at most 2`;
}
