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
   * without holding them all (an array of every piece of a long text costs far more than it).
   */
  eachPiece(p: Piece, first: boolean, f: (piece: Piece) => void): void;
}

export type Behavior = 'Removed' | 'Isolated' | 'MergedWithPrevious' | 'MergedWithNext' | 'Contiguous';
const BEHAVIORS: readonly Behavior[] = ['Removed', 'Isolated', 'MergedWithPrevious', 'MergedWithNext', 'Contiguous'];

/** Splits `p` around the matches of a global regex, HF's SplitDelimiterBehavior semantics. */
export function splitByPattern(p: Piece, re: RegExp, behavior: Behavior, invert: boolean): Piece[] {
  const out: Piece[] = [];
  eachByPattern(p, re, behavior, invert, (q) => out.push(q));
  return out;
}

/**
 * splitByPattern one piece at a time, holding none of them: the text is walked as ranges
 * [a, b, isMatch] that tile it, and each behavior keeps at most one range pending.
 */
export function eachByPattern(p: Piece, re: RegExp, behavior: Behavior, invert: boolean, f: (piece: Piece) => void): void {
  const n = p.text.length;
  const emit = (a: number, b: number): void => { if (b > a) f(a === 0 && b === n ? p : slicePiece(p, a, b)); };
  // Contiguous, MergedWithPrevious: the last output range [pa, pb), still open to joins.
  // MergedWithNext: `pending` starts a match that waits for what follows it.
  let pa = -1;
  let pb = -1;
  let prevMatch = false;
  let pending = -1;
  const range = (a: number, b: number, m: boolean): void => {
    switch (behavior) {
      case 'Removed': if (!m) emit(a, b); break;
      case 'Isolated': emit(a, b); break;
      case 'Contiguous': case 'MergedWithPrevious': {
        // Mirrors HF: a match joins the piece before it; Contiguous also joins runs of matches.
        const join = behavior === 'Contiguous' ? m === prevMatch : m && !prevMatch;
        if (join && pa >= 0) pb = b;
        else { if (pa >= 0) emit(pa, pb); pa = a; pb = b; }
        prevMatch = m;
        break;
      }
      case 'MergedWithNext':
        if (m) { if (pending >= 0) emit(pending, a); pending = a; } else if (pending >= 0) { emit(pending, b); pending = -1; } else emit(a, b);
        break;
    }
  };
  let last = 0;
  // matchAll iterates a copy of `re`, so a nested split with the same regex cannot disturb it.
  for (const m of p.text.matchAll(re)) {
    if (m[0].length === 0) continue;
    if (m.index > last) range(last, m.index, invert);
    range(m.index, m.index + m[0].length, !invert);
    last = m.index + m[0].length;
  }
  if (last < n) range(last, n, invert);
  if (pa >= 0) emit(pa, pb);
  if (pending >= 0) emit(pending, n);
}

/** A pre-tokenizer from its streaming form: split() collects what eachPiece() hands over. */
function streaming(byteLevel: boolean, eachPiece: (p: Piece, first: boolean, f: (piece: Piece) => void) => void): PreTokenizer {
  return {
    byteLevel,
    eachPiece,
    split(p, first) {
      const out: Piece[] = [];
      eachPiece(p, first, (q) => out.push(q));
      return out;
    },
  };
}

function regexSplitter(re: RegExp, behavior: Behavior, invert: boolean, byteLevel = false): PreTokenizer {
  return streaming(byteLevel, (p, _first, f) => eachByPattern(p, re, behavior, invert, f));
}

const WHITESPACE_RUN = /\p{White_Space}+/gu;
// Rust regex \w: alphabetic, marks, decimal digits, connector punctuation, join controls.
const WORD_OR_SYMBOLS = /[\p{Alphabetic}\p{M}\p{Nd}\p{Pc}\p{Join_Control}]+|[^\p{Alphabetic}\p{M}\p{Nd}\p{Pc}\p{Join_Control}\p{White_Space}]+/gu;
const PUNCTUATION = /[\p{P}!-\/:-@[-`{-~]/gu;

export function byteLevelPreTokenizer(addPrefixSpace: boolean, useRegex: boolean): PreTokenizer {
  return {
    ...streaming(true, (p, _first, f) => {
      let q = p;
      if (addPrefixSpace && !p.text.startsWith(' ')) {
        const b = new PieceBuilder(p);
        const [s] = pieceSpan(p, 0, 0);
        b.push(' ', s, s);
        b.copy(p, 0, p.text.length);
        q = b.build(p.offset);
      }
      if (useRegex) eachByPattern(q, GPT2_PATTERN, 'Isolated', false, f);
      else f(q);
    }),
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
  return streaming(false, (p, first, f) => {
    if (split && replacement.length === 1 && p.noAlign === true) return eachMetaspaceWord(p, replacement, scheme === 'always' || (scheme === 'first' && first), f);
    let q = p;
    if (replacement.length === 1 && p.starts === null) {
      // One unit for one unit keeps the identity alignment: no builder, no part per space.
      if (p.text.includes(' ')) q = { ...p, text: p.text.replaceAll(' ', replacement) };
    } else {
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
      if (last > 0) q = b.build(p.offset);
    }
    if ((scheme === 'always' || (scheme === 'first' && first)) && !q.text.startsWith(replacement) && q.text.length > 0) {
      const c = new PieceBuilder(q);
      const [s, e] = pieceSpan(q, 0, 1);
      c.push(replacement, s, e);
      c.copy(q, 0, q.text.length);
      q = c.build(q.offset);
    }
    if (split) eachByPattern(q, splitter, 'MergedWithNext', false, f);
    else f(q);
  });
}

/**
 * Metaspace's pieces without rewriting the whole text (ids only, a one-unit replacement): every
 * piece starts at a space or a replacement and holds no other, so each piece is rewritten alone,
 * its leading space (or the prepended one) becoming the replacement. Same texts as the general
 * path's replace, prepend and MergedWithNext split.
 */
function eachMetaspaceWord(p: Piece, replacement: string, prepend: boolean, f: (piece: Piece) => void): void {
  const t = p.text;
  const rep = replacement.charCodeAt(0);
  const at = (i: number): boolean => { const c = t.charCodeAt(i); return c === 32 || c === rep; };
  const emit = (a: number, b: number): void => {
    let text = t.slice(a, b);
    if (t.charCodeAt(a) === 32) text = replacement + text.slice(1);
    else if (a === 0 && prepend && !at(0)) text = replacement + text;
    f({ text, offset: p.offset + a, starts: null, ends: null, noAlign: true });
  };
  let start = 0;
  for (let i = 1; i < t.length; i++) if (at(i)) { emit(start, i); start = i; }
  if (t.length > 0) emit(start, t.length);
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
    case 'BertPreTokenizer': return streaming(false, (p, _first, f) => eachByPattern(p, WHITESPACE_RUN, 'Removed', false, (q) => eachByPattern(q, PUNCTUATION, 'Isolated', false, f)));
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
      // Depth first: each piece of stage i goes through the later stages before the next one,
      // so no stage holds the pieces of the whole text. A piece is `first` while it starts
      // where the caller's piece starts.
      return streaming(list.some((x) => x.byteLevel), (p, first, f) => {
        const walk = (q: Piece, stage: number, qFirst: boolean): void => {
          if (stage === list.length) return f(q);
          list[stage]!.eachPiece(q, qFirst, (r) => walk(r, stage + 1, qFirst && r.offset === q.offset));
        };
        walk(p, 0, first);
      });
    }
    default: throw unknownType(path, type, TYPES);
  }
}
