// sentencepiece's own normalizer (normalizer.cc, Normalizer::Normalize): the charsmap applied by
// longest match over UTF-8 bytes, user-defined symbols left as they are, and the whitespace rules
// (add_dummy_prefix, remove_extra_whitespaces, escape_whitespaces). Not the Precompiled normalizer
// of tokenizer.json, which matches grapheme by grapheme as the Rust crate does (precompiled.ts).
import { utf8Encoder } from './bytes.js';
import type { Normalizer } from './normalizers.js';
import type { Charsmap } from './precompiled.js';
import { PieceBuilder, pieceSpan, type Piece } from './text.js';

export const SPACE_SYMBOL = '\u2581';

export interface SpmNormalizerOptions {
  charsmap: Charsmap | null;
  addDummyPrefix: boolean;
  removeExtraWhitespaces: boolean;
  escapeWhitespaces: boolean;
  treatWhitespaceAsSuffix: boolean;
  /** User-defined symbols: matched first and never rewritten. */
  userDefined: readonly string[];
}

/**
 * The normalizer. Each step consumes one unit of input (a user-defined symbol, the longest
 * charsmap key, or one character) and appends its replacement; every output character takes the
 * span of the input it came from, and an added dummy prefix takes an empty span where the text starts.
 */
export function spmNormalizer(o: SpmNormalizerOptions): Normalizer {
  // Longest first, so the first symbol that matches is the longest (PrefixMatcher).
  const symbols = [...o.userDefined].filter((s) => s.length > 0).sort((a, b) => b.length - a.length);
  const space = o.escapeWhitespaces ? SPACE_SYMBOL : ' ';
  return (p) => {
    const t = p.text;
    const bytes = utf8Encoder.encode(t);
    const b = new PieceBuilder(p);
    let out = '';
    // One step at UTF-16 index u (byte index k): [replacement, units consumed, bytes consumed].
    const step = (u: number, k: number): [string, number, number] => {
      for (const s of symbols) if (t.startsWith(s, u)) return [s, s.length, utf8Encoder.encode(s).length];
      if (o.charsmap !== null) {
        const m = o.charsmap.longestPrefix(bytes, k, bytes.length);
        if (m !== null) {
          const [value, n] = m;
          return [o.charsmap.replacement(value), unitsOf(bytes, k, n), n];
        }
      }
      const w = t.codePointAt(u)! > 0xffff ? 2 : 1;
      const ch = t.slice(u, u + w);
      return [ch, w, w === 2 ? 4 : utf8Encoder.encode(ch).length];
    };
    let u = 0;
    let k = 0;
    if (o.removeExtraWhitespaces) {
      while (u < t.length) {
        const [r, nu, nk] = step(u, k);
        if (r !== ' ') break;
        u += nu;
        k += nk;
      }
    }
    if (u >= t.length) return { text: '', offset: p.offset, starts: p.noAlign === true ? null : [], ends: p.noAlign === true ? null : [], noAlign: p.noAlign === true };
    const emit = (s: string, from: number, to: number): void => {
      const [a, e] = pieceSpan(p, from, to);
      b.push(s, a, e);
      out += s;
    };
    const [start] = pieceSpan(p, u, u);
    if (!o.treatWhitespaceAsSuffix && o.addDummyPrefix) { b.push(space, start, start); out += space; }
    let prevSpace = o.removeExtraWhitespaces;
    while (u < t.length) {
      const [r, nu, nk] = step(u, k);
      let s = r;
      if (prevSpace) { let i = 0; while (i < s.length && s.charCodeAt(i) === 32) i++; s = s.slice(i); }
      if (s.length > 0) {
        emit(o.escapeWhitespaces ? s.replaceAll(' ', SPACE_SYMBOL) : s, u, u + nu);
        prevSpace = s.endsWith(' ');
      }
      u += nu;
      k += nk;
      if (!o.removeExtraWhitespaces) prevSpace = false;
    }
    let built = b.build(p.offset);
    if (o.removeExtraWhitespaces) {
      let e = out.length;
      while (e > 0 && out.charCodeAt(e - 1) === space.charCodeAt(0)) e--;
      if (e < out.length) built = trimTo(built, e);
    }
    if (o.treatWhitespaceAsSuffix && o.addDummyPrefix) {
      const end = built.text.length === 0 ? start : pieceSpan(built, built.text.length - 1, built.text.length)[1];
      const c = new PieceBuilder(built);
      c.copy(built, 0, built.text.length);
      c.push(space, end, end);
      built = c.build(built.offset);
    }
    return built;
  };
}

/** UTF-16 units in bytes[k, k + n) of well-formed UTF-8. */
function unitsOf(bytes: Uint8Array, k: number, n: number): number {
  let u = 0;
  for (let i = k; i < k + n; i++) {
    const c = bytes[i]!;
    if ((c & 0xc0) !== 0x80) u += c >= 0xf0 ? 2 : 1;
  }
  return u;
}

function trimTo(p: Piece, e: number): Piece {
  return { text: p.text.slice(0, e), offset: p.offset, starts: p.starts === null ? null : p.starts.slice(0, e), ends: p.ends === null ? null : p.ends.slice(0, e), noAlign: p.noAlign === true };
}
