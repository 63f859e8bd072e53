/**
 * How deep a GraphQL document nests `{`, `[` and `(`, found by a linear scan that skips strings
 * and comments. graphql-js parses (and later validates, coerces and measures) recursively, so a
 * document of a few thousand nested selection sets or list values overflows the stack; its token
 * limit cannot stop that, as 3,000 levels are well under it. Checked before parsing.
 */
export const MAX_DOCUMENT_NESTING = 64;

/** The deepest nesting of `text`, or of its first `stopAbove + 1` levels when it goes deeper. */
export function documentNesting(text: string, stopAbove = Infinity): number {
  let depth = 0;
  let deepest = 0;
  let i = 0;
  while (i < text.length) {
    const ch = text.charCodeAt(i);
    if (ch === HASH) {
      // A comment runs to the end of the line.
      while (i < text.length && text.charCodeAt(i) !== LF && text.charCodeAt(i) !== CR) i++;
    } else if (ch === QUOTE) {
      i = text.startsWith('"""', i) ? afterBlockString(text, i + 3) : afterString(text, i + 1);
      continue;
    } else if (ch === OPEN_BRACE || ch === OPEN_BRACKET || ch === OPEN_PAREN) {
      depth++;
      if (depth > deepest) {
        deepest = depth;
        if (deepest > stopAbove) return deepest;
      }
    } else if ((ch === CLOSE_BRACE || ch === CLOSE_BRACKET || ch === CLOSE_PAREN) && depth > 0) {
      depth--;
    }
    i++;
  }
  return deepest;
}

const HASH = 0x23;
const LF = 0x0a;
const CR = 0x0d;
const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;
const OPEN_PAREN = 0x28;
const CLOSE_PAREN = 0x29;

/** Index after the closing quote of a string whose content starts at `i` (or the end of its line). */
function afterString(text: string, i: number): number {
  while (i < text.length) {
    const ch = text.charCodeAt(i);
    if (ch === BACKSLASH) i += 2;
    else if (ch === QUOTE) return i + 1;
    // An unterminated string ends at its line: the parser will say so.
    else if (ch === LF || ch === CR) return i;
    else i++;
  }
  return i;
}

/** Index after the closing `"""` of a block string whose content starts at `i`; `\"""` does not close it. */
function afterBlockString(text: string, i: number): number {
  while (i < text.length) {
    if (text.startsWith('\\"""', i)) i += 4;
    else if (text.startsWith('"""', i)) return i + 3;
    else i++;
  }
  return i;
}
