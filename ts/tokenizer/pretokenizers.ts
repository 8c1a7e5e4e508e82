// Pre-tokenizers from tokenizer.json (ByteLevel, Whitespace, WhitespaceSplit, BertPreTokenizer,
// Metaspace, Split, Digits, Punctuation, CharDelimiterSplit, Sequence). Not the models that follow.
import { asArray, asBool, asObject, asString, opt, readPattern, req, typeOf, unknownType, TokenizerFormatError, escapeRegExp, type JsonObject } from './json.js';
import { PieceBuilder, pieceSpan, slicePiece, type Piece } from './text.js';

/** GPT-2's split: contractions, letters, numbers, other symbols, and whitespace runs. */
// Whitespace is Unicode White_Space, as in the Rust references (HF, tiktoken), not JavaScript's
// \s, which adds U+FEFF and leaves out U+0085.
export const GPT2_PATTERN = /'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\p{White_Space}\p{L}\p{N}]+|\p{White_Space}+(?!\P{White_Space})|\p{White_Space}+/gu;

export interface PreTokenizer {
  /** Splits one piece; `first` is true when the piece starts the caller's text. */
  split(p: Piece, first: boolean): Piece[];
  /** True when the model must see UTF-8 bytes through the GPT-2 alphabet. */
  readonly byteLevel: boolean;
  /** Fast path when offsets are not needed: calls `f` with each word of plain text. */
  eachWord?: (text: string, f: (word: string) => void) => void;
  /**
   * split() one piece at a time: calls `f` with each piece split() would return, in order,
   * without holding them all (a sequence's stages otherwise hold every piece of a long text).
   */
  eachPiece?: (p: Piece, first: boolean, f: (piece: Piece) => void) => void;
}

export type Behavior = 'Removed' | 'Isolated' | 'MergedWithPrevious' | 'MergedWithNext' | 'Contiguous';
const BEHAVIORS: readonly Behavior[] = ['Removed', 'Isolated', 'MergedWithPrevious', 'MergedWithNext', 'Contiguous'];

/** Splits `p` around the matches of a global regex, HF's SplitDelimiterBehavior semantics. */
export function splitByPattern(p: Piece, re: RegExp, behavior: Behavior, invert: boolean): Piece[] {
  // Ranges [a, b, isMatch] covering the whole text.
  const ranges: [number, number, boolean][] = [];
  let last = 0;
  re.lastIndex = 0;
  for (const m of p.text.matchAll(re)) {
    if (m[0].length === 0) continue;
    if (m.index > last) ranges.push([last, m.index, invert]);
    ranges.push([m.index, m.index + m[0].length, !invert]);
    last = m.index + m[0].length;
  }
  if (last < p.text.length) ranges.push([last, p.text.length, invert]);
  return splitRanges(p, ranges, behavior);
}

function splitRanges(p: Piece, ranges: [number, number, boolean][], behavior: Behavior): Piece[] {
  const out: [number, number][] = [];
  switch (behavior) {
    case 'Removed': for (const [a, b, m] of ranges) if (!m) out.push([a, b]); break;
    case 'Isolated': for (const [a, b] of ranges) out.push([a, b]); break;
    case 'Contiguous': case 'MergedWithPrevious': {
      // Mirrors HF: a match joins the piece before it; Contiguous also joins runs of matches.
      let prevMatch = false;
      for (const [a, b, m] of ranges) {
        const prev = out[out.length - 1];
        const join = behavior === 'Contiguous' ? m === prevMatch : m && !prevMatch;
        if (join && prev) prev[1] = b; else out.push([a, b]);
        prevMatch = m;
      }
      break;
    }
    case 'MergedWithNext': {
      let pending = -1;
      for (const [a, b, m] of ranges) {
        if (m) { if (pending >= 0) out.push([pending, a]); pending = a; } else if (pending >= 0) { out.push([pending, b]); pending = -1; } else out.push([a, b]);
      }
      if (pending >= 0) out.push([pending, ranges[ranges.length - 1]![1]]);
      break;
    }
  }
  return out.filter(([a, b]) => b > a).map(([a, b]) => (a === 0 && b === p.text.length ? p : slicePiece(p, a, b)));
}

function regexSplitter(re: RegExp, behavior: Behavior, invert: boolean, byteLevel = false): PreTokenizer {
  return { byteLevel, split: (p) => splitByPattern(p, re, behavior, invert) };
}

const WHITESPACE_RUN = /\p{White_Space}+/gu;
// Rust regex \w: alphabetic, marks, decimal digits, connector punctuation, join controls.
const WORD_OR_SYMBOLS = /[\p{Alphabetic}\p{M}\p{Nd}\p{Pc}\p{Join_Control}]+|[^\p{Alphabetic}\p{M}\p{Nd}\p{Pc}\p{Join_Control}\p{White_Space}]+/gu;
const PUNCTUATION = /[\p{P}!-\/:-@[-`{-~]/gu;

export function byteLevelPreTokenizer(addPrefixSpace: boolean, useRegex: boolean): PreTokenizer {
  return {
    byteLevel: true,
    split(p) {
      let q = p;
      if (addPrefixSpace && !p.text.startsWith(' ')) {
        const b = new PieceBuilder(p);
        const [s] = pieceSpan(p, 0, 0);
        b.push(' ', s, s);
        b.copy(p, 0, p.text.length);
        q = b.build(p.offset);
      }
      return useRegex ? splitByPattern(q, GPT2_PATTERN, 'Isolated', false) : [q];
    },
    eachWord(text, f) {
      const t = addPrefixSpace && !text.startsWith(' ') ? ` ${text}` : text;
      if (!useRegex) { if (t.length > 0) f(t); return; }
      // The GPT-2 pattern matches every character, so matches tile the text.
      const re = GPT2_PATTERN;
      re.lastIndex = 0;
      for (let m = re.exec(t); m !== null; m = re.exec(t)) f(m[0]);
    },
  };
}

export function metaspacePreTokenizer(replacement: string, scheme: 'always' | 'first' | 'never', split: boolean): PreTokenizer {
  const splitter = new RegExp(escapeRegExp(replacement), 'gu');
  return {
    byteLevel: false,
    split(p, first) {
      const b = new PieceBuilder(p);
      let last = 0;
      for (let i = 0; i < p.text.length; i++) {
        if (p.text.charCodeAt(i) !== 32) continue;
        b.copy(p, last, i);
        const [s, e] = pieceSpan(p, i, i + 1);
        b.push(replacement, s, e);
        last = i + 1;
      }
      b.copy(p, last, p.text.length);
      let q = last === 0 ? p : b.build(p.offset);
      if ((scheme === 'always' || (scheme === 'first' && first)) && !q.text.startsWith(replacement) && q.text.length > 0) {
        const c = new PieceBuilder(q);
        const [s, e] = pieceSpan(q, 0, 1);
        c.push(replacement, s, e);
        c.copy(q, 0, q.text.length);
        q = c.build(q.offset);
      }
      return split ? splitByPattern(q, splitter, 'MergedWithNext', false) : [q];
    },
  };
}

const TYPES = ['ByteLevel', 'Whitespace', 'WhitespaceSplit', 'BertPreTokenizer', 'Metaspace', 'Split', 'Digits', 'Punctuation', 'CharDelimiterSplit', 'Sequence'] as const;

function readBehavior(v: unknown, path: string): Behavior {
  const s = asString(v, path);
  if (!(BEHAVIORS as readonly string[]).includes(s)) throw new TokenizerFormatError(path, `unknown behavior '${s}' (supported: ${BEHAVIORS.join(', ')})`);
  return s as Behavior;
}

/** Reads Metaspace's prepend scheme from either the current or the older (add_prefix_space) layout. */
export function readPrependScheme(o: JsonObject, path: string): 'always' | 'first' | 'never' {
  if (o.prepend_scheme !== undefined && o.prepend_scheme !== null) {
    const s = asString(o.prepend_scheme, `${path}.prepend_scheme`);
    if (s !== 'always' && s !== 'first' && s !== 'never') throw new TokenizerFormatError(`${path}.prepend_scheme`, `expected always, first or never, got '${s}'`);
    return s;
  }
  return opt(o, 'add_prefix_space', path, asBool, true) ? 'always' : 'never';
}

export function buildPreTokenizer(v: unknown, path: string): PreTokenizer | null {
  if (v === null || v === undefined) return null;
  const o = asObject(v, path);
  const type = typeOf(o, path);
  switch (type) {
    case 'ByteLevel': return byteLevelPreTokenizer(opt(o, 'add_prefix_space', path, asBool, true), opt(o, 'use_regex', path, asBool, true));
    case 'Whitespace': return regexSplitter(WORD_OR_SYMBOLS, 'Removed', true);
    case 'WhitespaceSplit': return regexSplitter(WHITESPACE_RUN, 'Removed', false);
    case 'BertPreTokenizer': return {
      byteLevel: false,
      split: (p) => splitByPattern(p, WHITESPACE_RUN, 'Removed', false).flatMap((q) => splitByPattern(q, PUNCTUATION, 'Isolated', false)),
    };
    case 'Metaspace': {
      const rep = req(o, 'replacement', path, asString);
      if ([...rep].length !== 1) throw new TokenizerFormatError(`${path}.replacement`, 'expected a single character');
      return metaspacePreTokenizer(rep, readPrependScheme(o, path), opt(o, 'split', path, asBool, true));
    }
    case 'Split': return regexSplitter(req(o, 'pattern', path, (x, p) => readPattern(x, p, 'gu')), req(o, 'behavior', path, readBehavior), opt(o, 'invert', path, asBool, false));
    case 'Digits': return regexSplitter(opt(o, 'individual_digits', path, asBool, false) ? /\p{N}/gu : /\p{N}+/gu, 'Isolated', false);
    case 'Punctuation': return regexSplitter(PUNCTUATION, opt(o, 'behavior', path, readBehavior, 'Isolated'), false);
    case 'CharDelimiterSplit': return regexSplitter(new RegExp(escapeRegExp(req(o, 'delimiter', path, asString)), 'gu'), 'Removed', false);
    case 'Sequence': {
      const list = req(o, 'pretokenizers', path, asArray).map((x, i) => buildPreTokenizer(x, `${path}.pretokenizers[${i}]`)).filter((x): x is PreTokenizer => x !== null);
      return {
        byteLevel: list.some((x) => x.byteLevel),
        split: (p, first) => list.reduce<Piece[]>((ps, pt) => ps.flatMap((q) => pt.split(q, first && q.offset === p.offset)), [p]),
        // Depth first: each piece of stage i goes through the later stages before the next one.
        // A piece is `first` while it starts where the caller's piece starts, as in split().
        eachPiece: (p, first, f) => {
          const walk = (q: Piece, stage: number, qFirst: boolean): void => {
            if (stage === list.length) return f(q);
            for (const r of list[stage]!.split(q, qFirst)) walk(r, stage + 1, qFirst && r.offset === q.offset);
          };
          walk(p, 0, first);
        },
      };
    }
    default: throw unknownType(path, type, TYPES);
  }
}
