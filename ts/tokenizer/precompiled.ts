// The Precompiled normalizer of sentencepiece-converted tokenizer.json files (XLM-R, T5, mBART):
// a charsmap trie read from base64 and applied grapheme by grapheme. Not NFKC, which it only resembles.
import { utf8Decoder, utf8Encoder } from './bytes.js';
import { TokenizerFormatError } from './json.js';
import { PieceBuilder, pieceSpan, type Piece } from './text.js';
import type { Normalizer } from './normalizers.js';

/**
 * A parsed precompiled_charsmap. Layout (sentencepiece normalizer.cc, Normalizer::DecodePrecompiledCharsMap):
 * u32 LE trie size in bytes, then that many bytes of Darts-clone double-array units (u32 LE),
 * then the replacement strings, each ending in NUL; a trie value is a byte offset into them.
 */
export class Charsmap {
  private readonly units: Uint32Array;
  private readonly replacements: Uint8Array;
  // Replacement text by byte offset, decoded once each.
  private readonly decoded = new Map<number, string>();

  constructor(blob: Uint8Array, path = 'precompiled_charsmap') {
    if (blob.length < 4) throw new TokenizerFormatError(path, `expected at least 4 bytes, got ${blob.length}`);
    const view = new DataView(blob.buffer, blob.byteOffset, blob.byteLength);
    const trieBytes = view.getUint32(0, true);
    if (trieBytes % 4 !== 0 || trieBytes === 0 || 4 + trieBytes > blob.length) {
      throw new TokenizerFormatError(path, `trie size ${trieBytes} does not fit a blob of ${blob.length} bytes in 4-byte units`);
    }
    this.units = new Uint32Array(trieBytes / 4);
    for (let i = 0; i < this.units.length; i++) this.units[i] = view.getUint32(4 + 4 * i, true);
    this.replacements = blob.subarray(4 + trieBytes);
  }

  /**
   * Trie values of every key that is a prefix of `bytes`, shortest first (Darts-clone's
   * commonPrefixSearch). Every index is checked, so a corrupt trie cannot read out of bounds.
   */
  prefixValues(bytes: Uint8Array, from: number, to: number): number[] {
    const out: number[] = [];
    this.walk(bytes, from, to, (v) => { out.push(v); });
    return out;
  }

  /**
   * The longest key that is a prefix of bytes[from, to): [value, key length in bytes], or null.
   * sentencepiece's own normalizer (Normalizer::NormalizePrefix) takes this one.
   */
  longestPrefix(bytes: Uint8Array, from: number, to: number): [number, number] | null {
    // The walk of prefixValues without a callback: this runs once per input character.
    const u = this.units;
    let pos = offsetOf(u[0]!);
    let value = -1;
    let length = 0;
    for (let i = from; i < to; i++) {
      const c = bytes[i]!;
      if (c === 0) break;
      pos ^= c;
      if (pos >= u.length) break;
      const unit = u[pos]!;
      if (labelOf(unit) !== c) break;
      pos ^= offsetOf(unit);
      if (pos >= u.length) break;
      if (((unit >>> 8) & 1) === 1) { value = u[pos]! & 0x7fffffff; length = i + 1 - from; }
    }
    return value < 0 ? null : [value, length];
  }

  /** Calls `f` with the value and end index of every key that prefixes bytes[from, to), shortest first. */
  private walk(bytes: Uint8Array, from: number, to: number, f: (value: number, end: number) => void): void {
    const u = this.units;
    let pos = offsetOf(u[0]!);
    for (let i = from; i < to; i++) {
      const c = bytes[i]!;
      // Darts keys end at NUL, so no key continues through one.
      if (c === 0) break;
      pos ^= c;
      if (pos >= u.length) break;
      const unit = u[pos]!;
      if (labelOf(unit) !== c) break;
      pos ^= offsetOf(unit);
      if (pos >= u.length) break;
      if (((unit >>> 8) & 1) === 1) f(u[pos]! & 0x7fffffff, i + 1);
    }
  }

  /** The replacement starting at byte `at`, up to its NUL. */
  replacement(at: number): string {
    let s = this.decoded.get(at);
    if (s !== undefined) return s;
    if (at >= this.replacements.length) throw new TokenizerFormatError('precompiled_charsmap', `replacement offset ${at} is past the end (${this.replacements.length} bytes)`);
    let e = at;
    while (e < this.replacements.length && this.replacements[e] !== 0) e++;
    s = utf8Decoder.decode(this.replacements.subarray(at, e));
    this.decoded.set(at, s);
    return s;
  }

  /**
   * What `text` becomes, or null when no key is a prefix of it. Like the Rust tokenizers crate
   * (spm_precompiled), the first (shortest) matching key wins even when it covers only part of
   * `text`: sentencepiece itself takes the longest, but parity is with the crate that reads
   * tokenizer.json.
   */
  transform(text: string): string | null {
    const bytes = utf8Encoder.encode(text);
    const v = this.prefixValues(bytes, 0, bytes.length);
    return v.length === 0 ? null : this.replacement(v[0]!);
  }
}

// Darts-clone unit fields (darts.h, DoubleArrayUnit): label in the low byte (bit 31 set on
// leaves so they never match a label), has_leaf at bit 8, offset in bits 10..31 scaled by bit 9.
function labelOf(unit: number): number {
  return unit & 0x800000ff;
}

function offsetOf(unit: number): number {
  return (unit >>> 10) << ((unit & 0x200) >>> 6);
}

let segmenter: Intl.Segmenter | null = null;

/** Units per call of the segmenter (the windows end at the first certain boundary after it). */
const GRAPHEME_WINDOW = 1024;

/**
 * Calls `f` with each grapheme cluster of `t` and its index. V8's segmenter slows with the
 * square of its input's length (55 s for 100,000 units), so a long text goes to it in windows
 * cut where a cluster boundary is certain: between two ASCII characters other than CR LF
 * (UAX #29: no rule joins them, whatever surrounds them), or between two CJK ideographs.
 */
export function eachGrapheme(t: string, f: (g: string, index: number) => void): void {
  segmenter ??= new Intl.Segmenter(undefined, { granularity: 'grapheme' });
  for (let start = 0; start < t.length;) {
    let end = Math.min(t.length, start + GRAPHEME_WINDOW);
    while (end < t.length && !certainBoundary(t.charCodeAt(end - 1), t.charCodeAt(end))) end++;
    const w = start === 0 && end === t.length ? t : t.slice(start, end);
    for (const { segment, index } of segmenter.segment(w)) f(segment, start + index);
    start = end;
  }
}

function certainBoundary(a: number, b: number): boolean {
  if (a < 0x80 && b < 0x80) return !(a === 13 && b === 10);
  return a >= 0x4e00 && a <= 0x9fff && b >= 0x4e00 && b <= 0x9fff;
}

/**
 * The normalizer: each grapheme (UAX #29, Intl.Segmenter) of under 6 UTF-8 bytes is looked up
 * whole; failing that, or when longer, each of its code points is looked up alone and kept when
 * nothing matches. This is the Rust crate's order, which XLM-R's published ids depend on.
 * Replaced text is aligned code point by code point to what it replaced (see push).
 */
export function precompiledNormalizer(map: Charsmap): Normalizer {
  return (p) => {
    const t = p.text;
    if (t.length === 0) return p;
    const b = new PieceBuilder(p);
    let changed = false;
    // Unchanged units are copied in runs: [run, a) waits for the next change or the end. A part
    // per grapheme costs tens of bytes a character on a long text.
    let run = 0;
    const replace = (a: number, e: number, r: string, src: string): void => {
      changed = true;
      b.copy(p, run, a);
      push(b, p, a, e, r, src);
      run = e;
    };
    eachGrapheme(t, (g, a) => {
      if (utf8Length(g) < 6) {
        const r = map.transform(g);
        if (r !== null) {
          if (r !== g) replace(a, a + g.length, r, g);
          return;
        }
      }
      for (let i = 0; i < g.length;) {
        const n = g.codePointAt(i)! > 0xffff ? 2 : 1;
        const ch = g.slice(i, i + n);
        const r = map.transform(ch);
        if (r !== null && r !== ch) replace(a + i, a + i + n, r, ch);
        i += n;
      }
    });
    if (!changed) return p;
    b.copy(p, run, t.length);
    return b.build(p.offset);
  };
}

/**
 * Appends replacement `r` of units [a, e) (`src`). Alignment follows the reference: the k-th code
 * point of the replacement takes the span of the k-th code point it replaces, and code points
 * beyond the original's count share the span of its last one.
 */
function push(b: PieceBuilder, p: Piece, a: number, e: number, r: string, src: string): void {
  if (r === src) { b.copy(p, a, e); return; }
  const spans: [number, number][] = [];
  for (let i = a; i < e;) {
    const n = src.codePointAt(i - a)! > 0xffff ? 2 : 1;
    spans.push(pieceSpan(p, i, i + n));
    i += n;
  }
  let k = 0;
  for (const ch of r) {
    const [s, f] = spans[Math.min(k++, spans.length - 1)]!;
    b.push(ch, s, f);
  }
}

function utf8Length(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c <= 0xdbff) { n += 4; i++; } else n += 3;
  }
  return n;
}

/** Decodes the base64 charsmap of a tokenizer.json Precompiled normalizer. */
export function charsmapFromBase64(s: string, path: string): Charsmap {
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(s)) throw new TokenizerFormatError(path, 'expected base64 text');
  return new Charsmap(Buffer.from(s, 'base64'), path);
}
