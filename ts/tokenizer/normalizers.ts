// Normalizers from tokenizer.json (NFC/NFD/NFKC/NFKD, Lowercase, StripAccents, BertNormalizer,
// Sequence, Replace, Prepend, Strip, Precompiled), each keeping alignment. Not pre-tokenization.
import { asArray, asBool, asObject, asString, opt, readPattern, req, typeOf, unknownType, type JsonObject } from './json.js';
import { charsmapFromBase64, precompiledNormalizer } from './precompiled.js';
import { PieceBuilder, mapCodePoints, pieceSpan, slicePiece, type Piece } from './text.js';

export type Normalizer = (p: Piece) => Piece;

const ASCII = /^[\x00-\x7f]*$/;
// BERT's accent stripping drops nonspacing marks (Mn); the StripAccents normalizer drops
// every combining mark (Mn, Mc, Me), vowel signs included, as the reference does.
const COMBINING_MARK = /^\p{Mn}$/u;
const ANY_MARK = /^\p{M}$/u;
// Rust's char::is_whitespace is the Unicode White_Space property; BERT adds \t \n \r.
const WHITE_SPACE = /^\p{White_Space}$/u;
// BERT drops "other" characters (Cc, Cf, Cn, Co) except \t \n \r.
const OTHER = /^[\p{Cc}\p{Cf}\p{Cn}\p{Co}]$/u;
// A base character with the marks that follow it: composition never crosses these clusters
// in practice, so normalizing cluster by cluster keeps a useful alignment.
const CLUSTER = /\P{M}\p{M}*|\p{M}+/gsu;

type Form = 'NFC' | 'NFD' | 'NFKC' | 'NFKD';

export function unicodeNormalizer(form: Form): Normalizer {
  return (p) => {
    const t = p.text;
    if (ASCII.test(t)) return p;
    const whole = t.normalize(form);
    if (whole === t) return p;
    // Nobody will ask for offsets: the cluster walk below only aligns, so skip it.
    if (p.noAlign === true) return { text: whole, offset: p.offset, starts: null, ends: null, noAlign: true };
    const b = new PieceBuilder(p);
    // Unchanged clusters are copied in runs (a part per cluster costs tens of bytes a character).
    let run = 0;
    for (const m of t.matchAll(CLUSTER)) {
      const a = m.index;
      const e = a + m[0].length;
      const n = m[0].normalize(form);
      if (n === m[0]) continue;
      b.copy(p, run, a);
      const [s, f] = pieceSpan(p, a, e);
      b.push(n, s, f);
      run = e;
    }
    b.copy(p, run, t.length);
    const built = b.build(p.offset);
    if (built.text === whole) return built;
    // Composition crossed a cluster boundary (Hangul jamo): keep the exact text, coarse alignment.
    const [s, e] = pieceSpan(p, 0, t.length);
    const c = new PieceBuilder(p);
    c.push(whole, s, e);
    return c.build(p.offset);
  };
}

export const lowercase: Normalizer = (p) => {
  if (ASCII.test(p.text)) {
    const l = p.text.toLowerCase();
    return l === p.text ? p : { ...p, text: l };
  }
  return mapCodePoints(p, (ch) => ch.toLowerCase());
};

export const stripAccents: Normalizer = (p) => (ASCII.test(p.text) ? p : mapCodePoints(p, (ch) => (ANY_MARK.test(ch) ? '' : ch)));

export function isChineseChar(cp: number): boolean {
  return (cp >= 0x4e00 && cp <= 0x9fff) || (cp >= 0x3400 && cp <= 0x4dbf) || (cp >= 0x20000 && cp <= 0x2a6df) ||
    (cp >= 0x2a700 && cp <= 0x2b73f) || (cp >= 0x2b740 && cp <= 0x2b81f) || (cp >= 0x2b920 && cp <= 0x2ceaf) ||
    (cp >= 0xf900 && cp <= 0xfaff) || (cp >= 0x2f800 && cp <= 0x2fa1f);
}

export function bertNormalizer(cleanText: boolean, chineseChars: boolean, strip: boolean, lower: boolean): Normalizer {
  // One pass over code points; per character the order is the reference's: clean, isolate
  // CJK ideographs, strip accents (NFD, drop Mn), lowercase. ASCII goes through a table.
  const ascii: string[] = [];
  for (let c = 0; c < 128; c++) {
    const ch = String.fromCharCode(c);
    ascii.push(cleanText && (c === 9 || c === 10 || c === 13) ? ' ' : cleanText && (c < 0x20 || c === 0x7f) ? '' : lower ? ch.toLowerCase() : ch);
  }
  const one = (ch: string, cp: number): string => {
    if (cp < 0x80) return ascii[cp]!;
    if (cleanText) {
      if (cp === 0xfffd || OTHER.test(ch)) return '';
      if (WHITE_SPACE.test(ch)) return ' ';
    }
    if (chineseChars && isChineseChar(cp)) return ` ${ch} `;
    let s = ch;
    if (strip) {
      const d = ch.normalize('NFD');
      s = d === ch ? (COMBINING_MARK.test(ch) ? '' : ch) : [...d].filter((x) => !COMBINING_MARK.test(x)).join('');
    }
    return lower ? s.toLowerCase() : s;
  };
  return (p) => mapCodePoints(p, one);
}

function replaceNormalizer(pattern: RegExp, content: string): Normalizer {
  return (p) => {
    pattern.lastIndex = 0;
    const hit = pattern.test(p.text);
    // matchAll starts from lastIndex, which test() just moved.
    pattern.lastIndex = 0;
    if (!hit) return p;
    const b = new PieceBuilder(p);
    let last = 0;
    for (const m of p.text.matchAll(pattern)) {
      if (m[0].length === 0) continue;
      b.copy(p, last, m.index);
      // The reference gives the replacement the span of the match's last code point: the
      // characters before it count as removed (NormalizedString::replace).
      const end = m.index + m[0].length;
      const lastUnits = end - m.index >= 2 && isLowSurrogate(p.text.charCodeAt(end - 1)) ? 2 : 1;
      const [s, e] = pieceSpan(p, end - lastUnits, end);
      b.push(content, s, e);
      last = m.index + m[0].length;
    }
    b.copy(p, last, p.text.length);
    return b.build(p.offset);
  };
}

function isLowSurrogate(c: number): boolean {
  return c >= 0xdc00 && c <= 0xdfff;
}

function prependNormalizer(prefix: string): Normalizer {
  return (p) => {
    if (p.text.length === 0) return p;
    const b = new PieceBuilder(p);
    // The reference gives prepended text the span of the character it precedes.
    const [s, e] = pieceSpan(p, 0, 1);
    b.push(prefix, s, e);
    b.copy(p, 0, p.text.length);
    return b.build(p.offset);
  };
}

function stripNormalizer(left: boolean, right: boolean): Normalizer {
  return (p) => {
    let a = 0;
    let e = p.text.length;
    if (left) while (a < e && WHITE_SPACE.test(p.text[a]!)) a++;
    if (right) while (e > a && WHITE_SPACE.test(p.text[e - 1]!)) e--;
    return a === 0 && e === p.text.length ? p : slicePiece(p, a, e);
  };
}

const TYPES = ['NFC', 'NFD', 'NFKC', 'NFKD', 'Lowercase', 'StripAccents', 'BertNormalizer', 'Sequence', 'Replace', 'Prepend', 'Strip', 'Precompiled'] as const;

/** Builds the normalizer described at `path` (null when the description is null). */
export function buildNormalizer(v: unknown, path: string): Normalizer | null {
  if (v === null || v === undefined) return null;
  const o: JsonObject = asObject(v, path);
  const type = typeOf(o, path);
  switch (type) {
    case 'NFC': case 'NFD': case 'NFKC': case 'NFKD': return unicodeNormalizer(type);
    case 'Lowercase': return lowercase;
    case 'StripAccents': return stripAccents;
    case 'BertNormalizer': {
      const lower = opt(o, 'lowercase', path, asBool, true);
      return bertNormalizer(opt(o, 'clean_text', path, asBool, true), opt(o, 'handle_chinese_chars', path, asBool, true),
        opt(o, 'strip_accents', path, asBool, lower), lower);
    }
    case 'Sequence': {
      const list = req(o, 'normalizers', path, asArray).map((n, i) => buildNormalizer(n, `${path}.normalizers[${i}]`));
      const fs = list.filter((n): n is Normalizer => n !== null);
      return (p) => fs.reduce((q, f) => f(q), p);
    }
    case 'Replace': return replaceNormalizer(req(o, 'pattern', path, (x, p) => readPattern(x, p, 'gu')), req(o, 'content', path, asString));
    case 'Prepend': return prependNormalizer(req(o, 'prepend', path, asString));
    case 'Strip': return stripNormalizer(opt(o, 'strip_left', path, asBool, true), opt(o, 'strip_right', path, asBool, true));
    case 'Precompiled': {
      const map = req(o, 'precompiled_charsmap', path, asString);
      // Converters write an empty charsmap for models trained with the identity rule.
      return map.length === 0 ? null : precompiledNormalizer(charsmapFromBase64(map, `${path}.precompiled_charsmap`));
    }
    default: throw unknownType(path, type, TYPES);
  }
}
