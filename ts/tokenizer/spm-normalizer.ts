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
 * span of the input it came from, and an added dummy prefix takes an empty span where the text
 * starts. Steps that leave their input as it is are copied in runs.
 */
export function spmNormalizer(o: SpmNormalizerOptions): Normalizer {
  // Longest first, so the first symbol that matches is the longest (PrefixMatcher).
  const symbols = [...o.userDefined].filter((s) => s.length > 0).sort((a, b) => b.length - a.length);
  const symbolBytes = symbols.map((s) => utf8Encoder.encode(s).length);
  const firstUnits = new Set(symbols.map((s) => s.charCodeAt(0)));
  const space = o.escapeWhitespaces ? SPACE_SYMBOL : ' ';
  const map = o.charsmap;
  return (p) => {
    const t = p.text;
    const bytes = utf8Encoder.encode(t);
    const b = new PieceBuilder(p);
    // One step at UTF-16 index u (byte index k): its replacement (null: the input unchanged),
    // UTF-16 units and bytes consumed.
    let rep: string | null = null;
    let nu = 0;
    let nk = 0;
    const step = (u: number, k: number): void => {
      if (firstUnits.has(t.charCodeAt(u))) {
        for (let i = 0; i < symbols.length; i++)
          if (t.startsWith(symbols[i]!, u)) { rep = null; nu = symbols[i]!.length; nk = symbolBytes[i]!; return; }
      }
      if (map !== null) {
        const m = map.longestPrefix(bytes, k, bytes.length);
        if (m !== null) {
          rep = map.replacement(m[0]);
          nk = m[1];
          nu = unitsOf(bytes, k, nk);
          if (t.startsWith(rep, u) && rep.length === nu) rep = null;
          return;
        }
      }
      const c = t.charCodeAt(u);
      rep = null;
      if (c < 0x80) { nu = 1; nk = 1; } else if (c < 0x800) { nu = 1; nk = 2; } else if (c >= 0xd800 && c <= 0xdbff) { nu = 2; nk = 4; } else { nu = 1; nk = 3; }
    };
    let u = 0;
    let k = 0;
    if (o.removeExtraWhitespaces) {
      while (u < t.length) {
        step(u, k);
        const s = rep ?? t.slice(u, u + nu);
        if (s !== ' ') break;
        u += nu;
        k += nk;
      }
    }
    if (u >= t.length) return { text: '', offset: p.offset, starts: p.noAlign === true ? null : [], ends: p.noAlign === true ? null : [], noAlign: p.noAlign === true };
    const [start] = pieceSpan(p, u, u);
    if (!o.treatWhitespaceAsSuffix && o.addDummyPrefix) b.push(space, start, start);
    let prevSpace = o.removeExtraWhitespaces;
    // Input units [run, u) are unchanged and still to be copied.
    let run = u;
    while (u < t.length) {
      step(u, k);
      const from = u;
      u += nu;
      k += nk;
      // Unchanged text without spaces extends the run; everything else goes through the rules.
      if (rep === null && !hasSpace(t, from, u)) {
        prevSpace = false;
        continue;
      }
      if (run < from) b.copy(p, run, from);
      run = u;
      let s: string = rep ?? t.slice(from, u);
      if (prevSpace) { let i = 0; while (i < s.length && s.charCodeAt(i) === 32) i++; s = s.slice(i); }
      if (s.length > 0) {
        const [a, e] = pieceSpan(p, from, u);
        b.push(o.escapeWhitespaces ? s.replaceAll(' ', SPACE_SYMBOL) : s, a, e);
        prevSpace = s.charCodeAt(s.length - 1) === 32;
      }
      if (!o.removeExtraWhitespaces) prevSpace = false;
    }
    if (run < t.length) b.copy(p, run, t.length);
    let built = b.build(p.offset);
    if (o.removeExtraWhitespaces) {
      let e = built.text.length;
      while (e > 0 && built.text.charCodeAt(e - 1) === space.charCodeAt(0)) e--;
      if (e < built.text.length) built = trimTo(built, e);
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

function hasSpace(t: string, a: number, e: number): boolean {
  for (let i = a; i < e; i++) if (t.charCodeAt(i) === 32) return true;
  return false;
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
