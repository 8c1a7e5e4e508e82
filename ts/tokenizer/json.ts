// Checked reads from parsed tokenizer.json: every failure names the field path it concerns.
// Not a schema for the whole file: each component reads its own fields.

/** A tokenizer description that cannot be used, with the JSON path of the field at fault. */
export class TokenizerFormatError extends Error {
  constructor(readonly field: string, message: string) {
    super(`${field}: ${message}`);
    this.name = 'TokenizerFormatError';
  }
}

export type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
export type JsonObject = { [k: string]: Json };

function kind(v: unknown): string {
  return v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v;
}

export function asObject(v: unknown, path: string): JsonObject {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new TokenizerFormatError(path, `expected an object, got ${kind(v)}`);
  return v as JsonObject;
}

export function asArray(v: unknown, path: string): Json[] {
  if (!Array.isArray(v)) throw new TokenizerFormatError(path, `expected an array, got ${kind(v)}`);
  return v as Json[];
}

export function asString(v: unknown, path: string): string {
  if (typeof v !== 'string') throw new TokenizerFormatError(path, `expected a string, got ${kind(v)}`);
  return v;
}

export function asNumber(v: unknown, path: string): number {
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new TokenizerFormatError(path, `expected a finite number, got ${kind(v)}`);
  return v;
}

export function asId(v: unknown, path: string): number {
  const n = asNumber(v, path);
  if (!Number.isInteger(n) || n < 0 || n > 0x7fffffff) throw new TokenizerFormatError(path, `expected a non-negative integer id, got ${n}`);
  return n;
}

export function asBool(v: unknown, path: string): boolean {
  if (typeof v !== 'boolean') throw new TokenizerFormatError(path, `expected a boolean, got ${kind(v)}`);
  return v;
}

/** Optional field: `undefined` and `null` give the default. */
export function opt<T>(o: JsonObject, key: string, path: string, read: (v: unknown, p: string) => T, dflt: T): T {
  const v = o[key];
  return v === undefined || v === null ? dflt : read(v, `${path}.${key}`);
}

export function req<T>(o: JsonObject, key: string, path: string, read: (v: unknown, p: string) => T): T {
  const v = o[key];
  if (v === undefined || v === null) throw new TokenizerFormatError(`${path}.${key}`, 'missing');
  return read(v, `${path}.${key}`);
}

/** The `type` tag of a component. */
export function typeOf(o: JsonObject, path: string): string {
  return req(o, 'type', path, asString);
}

export function unknownType(path: string, type: string, known: readonly string[]): TokenizerFormatError {
  return new TokenizerFormatError(`${path}.type`, `unknown type '${type}' (supported: ${known.join(', ')})`);
}

/** A `{ String: s }` or `{ Regex: r }` pattern, compiled once with the flags given. */
export function readPattern(v: unknown, path: string, flags: string): RegExp {
  const o = asObject(v, path);
  if (typeof o.String === 'string') return new RegExp(escapeRegExp(o.String), flags);
  if (typeof o.Regex === 'string') {
    try {
      return new RegExp(translateRegex(o.Regex), flags);
    } catch (e) {
      throw new TokenizerFormatError(`${path}.Regex`, `not a usable regular expression: ${(e as Error).message}`);
    }
  }
  throw new TokenizerFormatError(path, 'expected { String } or { Regex }');
}

export function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}

/**
 * Rewrites the Oniguruma syntax that tokenizer.json patterns use into JavaScript's: scoped
 * case-insensitivity `(?i:...)` over plain text (Llama 3's contractions), and the Unicode
 * meaning of \s \d \w (JavaScript's are ASCII or, for \s, a different set: it has U+FEFF and
 * lacks U+0085). Anything else inside a `(?i:` group is refused rather than guessed.
 */
export function translateRegex(src: string): string {
  let out = '';
  let inClass = false;
  for (let i = 0; i < src.length;) {
    const c = src[i]!;
    if (c === '\\') {
      const e = src[i + 1] ?? '';
      out += CLASS_ESCAPES[e] === undefined ? src.slice(i, i + 2) : inClass ? CLASS_ESCAPES[e]!.inside : CLASS_ESCAPES[e]!.outside;
      i += 2;
      continue;
    }
    if (!inClass && src.startsWith('(?i:', i)) {
      let depth = 1;
      let j = i + 4;
      let body = '';
      for (; j < src.length; j++) {
        const d = src[j]!;
        if (d === '\\' || d === '[') throw new Error(`(?i:...) with escapes or classes is not supported: ${src.slice(i, i + 40)}`);
        if (d === '(') depth++;
        if (d === ')' && --depth === 0) break;
        body += /[a-z]/i.test(d) ? `[${d.toLowerCase()}${d.toUpperCase()}]` : d;
      }
      if (depth !== 0) throw new Error('unbalanced (?i: group');
      out += `(?:${body})`;
      i = j + 1;
      continue;
    }
    if (c === '[' && !inClass) inClass = true;
    else if (c === ']' && inClass) inClass = false;
    out += c;
    i++;
  }
  return out;
}

const WORD = '\\p{Alphabetic}\\p{M}\\p{Nd}\\p{Pc}\\p{Join_Control}';
const CLASS_ESCAPES: Record<string, { inside: string; outside: string }> = {
  s: { inside: '\\p{White_Space}', outside: '\\p{White_Space}' },
  S: { inside: '\\P{White_Space}', outside: '\\P{White_Space}' },
  d: { inside: '\\p{Nd}', outside: '\\p{Nd}' },
  D: { inside: '\\P{Nd}', outside: '\\P{Nd}' },
  w: { inside: WORD, outside: `[${WORD}]` },
};
