import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { z } from 'zod';
import { ConfigSchema } from '../../src/config';

const REFERENCE = readFileSync(resolve(__dirname, '../../docs/CONFIGURATION.md'), 'utf8');

interface JsonSchemaNode {
  type?: string;
  properties?: Record<string, JsonSchemaNode>;
  anyOf?: JsonSchemaNode[];
  oneOf?: JsonSchemaNode[];
  additionalProperties?: JsonSchemaNode | boolean;
  default?: unknown;
}

/**
 * Every key of the schema as a dotted path, with its default where it has one. A map keyed by
 * names the operator chooses (`energy.machines`) is a key itself, and when its values are objects
 * their fields are keys too, written with `*` for the chosen name: `energy.machines.*.embodied.share`.
 */
function keysOf(node: JsonSchemaNode, path = '', out = new Map<string, unknown>()): Map<string, unknown> {
  const branches = node.anyOf ?? node.oneOf;
  const values = node.additionalProperties;
  if (branches) {
    for (const branch of branches) keysOf(branch, path, out);
  } else if (node.type === 'object' && node.properties) {
    for (const [key, child] of Object.entries(node.properties))
      keysOf(child, path ? `${path}.${key}` : key, out);
  } else {
    if (!out.has(path) || out.get(path) === undefined) out.set(path, node.default);
    if (typeof values === 'object' && values.type === 'object') keysOf(values, `${path}.*`, out);
  }
  return out;
}

/** The reference's table rows, by key: `| \`key\` | default | meaning |`; a cell writes `|` as `\|`. */
const rows = new Map(
  [...REFERENCE.matchAll(/^\|\s*`([^`]+)`\s*\|((?:[^|\\]|\\.)+)\|(.+)\|$/gm)].map(
    ([, key, dflt, meaning]) => [key, { dflt: dflt.trim().replace(/\\\|/g, '|'), meaning: meaning.trim() }],
  ),
);

describe('docs/CONFIGURATION.md', () => {
  const keys = keysOf(
    z.toJSONSchema(ConfigSchema, { io: 'input', unrepresentable: 'any' }) as JsonSchemaNode,
  );

  it('has a row for every key of the config schema, and none for a key it does not have', () => {
    expect(keys.size).toBeGreaterThan(25);
    expect([...rows.keys()].sort()).toEqual([...keys.keys()].sort());
  });

  it("gives each key the schema's default, and a meaning", () => {
    for (const [key, dflt] of keys) {
      const row = rows.get(key)!;
      expect(row.meaning.length).toBeGreaterThan(20);
      // A key without a default of its own (optional, or defaulted by its section) says so in words.
      if (dflt === undefined) continue;
      const expected = `\`${JSON.stringify(dflt).replace(/,/g, ', ')}\``;
      expect({ key, dflt: row.dflt.slice(0, expected.length) }).toEqual({ key, dflt: expected });
    }
  });

  it('says what the workspace registry holds, what `unknown` is, how to choose watts, what counts as busy', () => {
    for (const field of ['hostname', 'owner', 'experiment', 'created_time', 'deleted_time']) {
      expect(REFERENCE).toContain(`"${field}"`);
    }
    expect(REFERENCE).toContain('**`unknown`**');
    expect(REFERENCE).toContain('## Choosing watts per core');
    expect(REFERENCE).toMatch(/\*\*`iowait`\*\*[\s\S]*\*\*`steal`\*\*/);
  });
});
