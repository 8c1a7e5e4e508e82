// Option names: the closest known name to a misspelled one, and the check that an options
// object holds only names its function takes. Not value checks: each caller does those.

/** Levenshtein distance, for "did you mean". */
function distance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) row.push(Math.min(prev[j]! + 1, row[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1)));
    prev = row;
  }
  return prev[b.length]!;
}

/** The known name closest to `key` (case, '_' and '-' ignored), if it is close enough to be a slip. */
export function closestName(key: string, known: readonly string[]): string | undefined {
  const norm = (s: string): string => s.toLowerCase().replace(/[_-]/g, '');
  const k = norm(key);
  let best: string | undefined;
  let bestD = Infinity;
  for (const name of known) {
    const n = norm(name);
    const d = n.startsWith(k) && k.length >= 4 ? 1 : distance(k, n);
    if (d < bestD) [best, bestD] = [name, d];
  }
  return bestD <= Math.max(1, Math.floor(k.length / 3)) ? best : undefined;
}

/**
 * Throws a TypeError naming the first key of `options` that is not in `known`, with the closest
 * known name when one is near: an option nobody reads is never silently dropped.
 * `renamed` maps old names to the message that says what they became.
 */
export function checkOptionNames(options: object, known: readonly string[], where: string, renamed: Readonly<Record<string, string>> = {}): void {
  for (const key of Object.keys(options)) {
    if (known.includes(key)) continue;
    const moved = renamed[key];
    if (moved !== undefined) throw new TypeError(`${where}: '${key}' ${moved}`);
    const near = closestName(key, known);
    throw new TypeError(`${where}: unknown option '${key}'${near ? `; did you mean '${near}'?` : ''}; options: ${known.join(', ')}`);
  }
}
