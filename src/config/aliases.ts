/**
 * How many nodes YAML aliases may add to a document. Aliases share nodes, so
 * a few lines can describe a tree of billions (the "billion laughs" bomb) that
 * every later walk (interpolation, ajv) would take exponential time over. A
 * file's own nodes are bounded by its size (1 MiB), so only what aliases add
 * is counted: a large config written out in full is not refused.
 */
export const MAX_ALIAS_NODES = 100_000;

class Refused {
  constructor(readonly message: string) {}
}

/**
 * Why a parsed YAML document may not be walked, or undefined when it may: its
 * aliases would add more than `limit` nodes, or one refers to itself (a cycle,
 * which js-yaml builds for `&a [*a]`). Visits each distinct node once, so a
 * bomb is refused in the time it takes to read its few lines.
 */
export function aliasProblem(doc: unknown, limit = MAX_ALIAS_NODES): string | undefined {
  const sizes = new Map<object, number>();
  const open = new Set<object>();
  let added = 0;
  const size = (value: unknown): number => {
    if (value === null || typeof value !== 'object') return 1;
    const known = sizes.get(value);
    if (known !== undefined) {
      // A node seen before is an alias: its whole expanded tree is copied here.
      added += known;
      if (added > limit) throw new Refused(`YAML aliases expand to more than ${limit} nodes (an alias bomb?)`);
      return known;
    }
    if (open.has(value)) throw new Refused('a YAML alias refers to a node that contains it (recursive alias)');
    open.add(value);
    let total = 1;
    for (const child of Array.isArray(value) ? value : Object.values(value)) total += size(child);
    open.delete(value);
    sizes.set(value, total);
    return total;
  };
  try {
    size(doc);
    return undefined;
  } catch (err) {
    if (err instanceof Refused) return err.message;
    throw err;
  }
}
