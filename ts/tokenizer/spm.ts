// Tokenizers from SentencePiece `.model` files (T5's spiece.model, Marian's source.spm/target.spm):
// sentencepiece's normalizer, its Unigram or BPE model with byte fallback, user-defined symbols,
// and its decoder. Not training, sampling (subword regularization) or n-best encoding.
import { AddedTokens, type AddedToken } from './added.js';
import { BpeModel } from './bpe.js';
import { parseByteToken } from './bytes.js';
import type { Decoder } from './decoders.js';
import { TokenizerFormatError } from './json.js';
import type { Model } from './model.js';
import { Charsmap } from './precompiled.js';
import { parseSentencePieceModel, SPM_MODEL_TYPE, SPM_PIECE_TYPE, type SpmModelProto } from './spm-proto.js';
import { SPACE_SYMBOL, spmNormalizer } from './spm-normalizer.js';
import { Tokenizer, type TokenizerParts } from './tokenizer.js';
import { UnigramModel } from './unigram.js';

export interface SentencePieceOptions {
  /**
   * Match control and unknown pieces (`</s>`, `<unk>`, `<pad>` ...) in the input as special
   * tokens, as Hugging Face's sentencepiece tokenizers (T5, Marian) and converted tokenizer.json
   * files do; they are then skipped by decode's skipSpecialTokens. Default false: sentencepiece
   * itself segments such text like any other.
   */
  splitSpecialTokens?: boolean;
  /** The file's name in error messages. Default 'sentencepiece model'. */
  path?: string;
}

const MODEL_NAMES: Record<number, string> = { 1: 'UNIGRAM', 2: 'BPE', 3: 'WORD', 4: 'CHAR' };

/** A Tokenizer that encodes and decodes as sentencepiece does with the model in `bytes`. */
export function tokenizerFromSentencePiece(bytes: Uint8Array, options: SentencePieceOptions = {}): Tokenizer {
  const path = options.path ?? 'sentencepiece model';
  return new Tokenizer(sentencePieceParts(parseSentencePieceModel(bytes, path), options.splitSpecialTokens ?? false, path));
}

/** The pipeline of a parsed model (for callers that add a post-processor, as Marian does). */
export function sentencePieceParts(m: SpmModelProto, splitSpecialTokens: boolean, path: string): TokenizerParts {
  const { pieces, trainer, normalizer } = m;
  const type = trainer.modelType;
  if (type !== SPM_MODEL_TYPE.unigram && type !== SPM_MODEL_TYPE.bpe) {
    throw new TokenizerFormatError(`${path}: trainer_spec.model_type`, `${MODEL_NAMES[type] ?? type} models are not supported (UNIGRAM and BPE are)`);
  }
  if (m.denormalizer !== null) throw new TokenizerFormatError(`${path}: denormalizer_spec`, 'decoding rules (a denormalizer charsmap) are not supported');
  const ids = new Map<string, number>();
  const texts: string[] = [];
  let unkId = -1;
  pieces.forEach((p, i) => {
    if (ids.has(p.piece)) throw new TokenizerFormatError(`${path}: pieces[${i}].piece`, `'${p.piece}' is already piece ${ids.get(p.piece)}`);
    ids.set(p.piece, i);
    texts.push(p.piece);
    if (p.type === SPM_PIECE_TYPE.unknown) {
      if (unkId >= 0) throw new TokenizerFormatError(`${path}: pieces[${i}].type`, `a second unknown piece (the first is ${unkId})`);
      unkId = i;
    }
    if (p.type === SPM_PIECE_TYPE.byte && parseByteToken(p.piece) < 0) throw new TokenizerFormatError(`${path}: pieces[${i}].piece`, `byte piece '${p.piece}' is not of the form <0xNN>`);
  });
  if (unkId < 0) throw new TokenizerFormatError(`${path}: pieces`, 'no piece has type UNKNOWN (sentencepiece requires one)');
  const userDefined = pieces.filter((p) => p.type === SPM_PIECE_TYPE.userDefined).map((p) => p.piece);
  const scores = Float64Array.from(pieces, (p) => p.score);
  let inner: Model;
  if (type === SPM_MODEL_TYPE.unigram) {
    const segmentable = Uint8Array.from(pieces, (p) => (p.type === SPM_PIECE_TYPE.normal ? 1 : 0));
    inner = new UnigramModel(texts, scores, unkId, trainer.byteFallback, `${path}: pieces`, segmentable);
  } else {
    const unused = pieces.findIndex((p) => p.type === SPM_PIECE_TYPE.unused);
    if (unused >= 0) throw new TokenizerFormatError(`${path}: pieces[${unused}].type`, 'UNUSED pieces in a BPE model are not supported');
    // Merges may only form normal pieces; byte and unknown pieces stay reachable by name.
    const vocab = new Map<string, number>();
    pieces.forEach((p, i) => { if (p.type === SPM_PIECE_TYPE.normal || p.type === SPM_PIECE_TYPE.byte || p.type === SPM_PIECE_TYPE.unknown) vocab.set(p.piece, i); });
    inner = new BpeModel(vocab, texts, [], {
      byteLevel: false, unkToken: texts[unkId]!, continuingSubwordPrefix: null, endOfWordSuffix: null,
      fuseUnk: true, byteFallback: trainer.byteFallback, ignoreMerges: false,
    }, { vocab: `${path}: pieces`, merges: `${path}: pieces`, unk: `${path}: pieces[${unkId}]` }, scores);
  }
  const added: AddedToken[] = splitSpecialTokens
    ? pieces.flatMap((p, i) => (p.type === SPM_PIECE_TYPE.control || p.type === SPM_PIECE_TYPE.unknown
      ? [{ id: i, content: p.piece, special: true, lstrip: false, rstrip: false, singleWord: false }] : []))
    : [];
  return {
    model: new SentencePieceModel(inner, texts, ids, userDefined, splitsAtSpaces(m)),
    normalizer: spmNormalizer({
      charsmap: normalizer.charsmap.length === 0 ? null : new Charsmap(normalizer.charsmap, `${path}: normalizer_spec.precompiled_charsmap`),
      addDummyPrefix: normalizer.addDummyPrefix,
      removeExtraWhitespaces: normalizer.removeExtraWhitespaces,
      escapeWhitespaces: normalizer.escapeWhitespaces,
      treatWhitespaceAsSuffix: trainer.treatWhitespaceAsSuffix,
      userDefined,
    }),
    preTokenizer: null,
    postProcessor: null,
    decoder: sentencePieceDecoder(m),
    byteLevelDecoder: false,
    added: new AddedTokens(added),
  };
}

/**
 * Whether segmentations never cross a '▁': no normal piece holds one past its first character,
 * and '▁' alone is a piece (so it is never an unknown character that fuses with its neighbours).
 * Then the text can go to the model word by word, as a memo of words makes cheap.
 */
function splitsAtSpaces(m: SpmModelProto): boolean {
  if (!m.normalizer.escapeWhitespaces || m.trainer.treatWhitespaceAsSuffix) return false;
  const normal = m.pieces.filter((p) => p.type === SPM_PIECE_TYPE.normal);
  return normal.some((p) => p.piece === SPACE_SYMBOL) && normal.every((p) => p.piece.indexOf(SPACE_SYMBOL, 1) < 0);
}

/**
 * The segmentation model with sentencepiece's user-defined symbols: each one is a token of its
 * own wherever it occurs (the reference gives them a score that always wins), and the text
 * between them goes to the Unigram or BPE model (word by word when `splitAtSpaces`).
 */
class SentencePieceModel implements Model {
  readonly kind: 'Unigram' | 'BPE';
  readonly size: number;
  private readonly userDefined: RegExp | null;

  constructor(private readonly inner: Model, private readonly pieces: readonly string[], private readonly ids: ReadonlyMap<string, number>, userDefined: readonly string[],
    private readonly splitAtSpaces: boolean) {
    this.kind = inner.kind === 'BPE' ? 'BPE' : 'Unigram';
    this.size = pieces.length;
    const list = [...userDefined].sort((a, b) => b.length - a.length).map((s) => s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&'));
    this.userDefined = list.length === 0 ? null : new RegExp(list.join('|'), 'gu');
  }

  tokenToId(token: string): number | undefined {
    return this.ids.get(token);
  }

  idToToken(id: number): string | undefined {
    return this.pieces[id];
  }

  encodeWord(word: string, out: number[]): void {
    if (this.userDefined === null && !this.splitAtSpaces) { this.inner.encodeWord(word, out); return; }
    this.eachPart(word, (a, e, id) => { if (id >= 0) out.push(id); else this.inner.encodeWord(word.slice(a, e), out); });
  }

  encodeWordSpans(word: string, ids: number[], starts: number[], ends: number[]): void {
    if (this.userDefined === null && !this.splitAtSpaces) { this.inner.encodeWordSpans(word, ids, starts, ends); return; }
    this.eachPart(word, (a, e, id) => {
      if (id >= 0) { ids.push(id); starts.push(a); ends.push(e); return; }
      const n = starts.length;
      this.inner.encodeWordSpans(word.slice(a, e), ids, starts, ends);
      for (let i = n; i < starts.length; i++) { starts[i]! += a; ends[i]! += a; }
    });
  }

  /** Calls `f` with each stretch of `word`: user-defined symbols with their id, the rest with -1. */
  private eachPart(word: string, f: (a: number, e: number, id: number) => void): void {
    const text = (a: number, e: number): void => {
      if (!this.splitAtSpaces) { f(a, e, -1); return; }
      // Each '▁' starts a new word.
      let s = a;
      for (let i = word.indexOf(SPACE_SYMBOL, a + 1); i >= 0 && i < e; i = word.indexOf(SPACE_SYMBOL, i + 1)) { f(s, i, -1); s = i; }
      f(s, e, -1);
    };
    const re = this.userDefined;
    if (re === null) { text(0, word.length); return; }
    re.lastIndex = 0;
    let last = 0;
    for (let m = re.exec(word); m !== null; m = re.exec(word)) {
      if (m.index > last) text(last, m.index);
      f(m.index, m.index + m[0].length, this.ids.get(m[0])!);
      last = m.index + m[0].length;
    }
    if (last < word.length) text(last, word.length);
  }
}

/**
 * sentencepiece's decoding (SentencePieceProcessor::Decode) with the pieces of `m`: control pieces vanish, the unknown
 * piece becomes unk_surface, runs of byte pieces become their UTF-8 text (U+FFFD for each byte
 * that starts no valid character), '▁' becomes a space, and the text's first '▁' (every leading
 * one when extra whitespace is removed) is dropped.
 */
export function sentencePieceDecoder(m: SpmModelProto): Decoder {
  const types = new Map<string, number>();
  for (const p of m.pieces) if (!types.has(p.piece)) types.set(p.piece, p.type);
  const unkSurface = m.trainer.unkSurface;
  const removeExtra = m.normalizer.removeExtraWhitespaces;
  const stripFirst = m.normalizer.addDummyPrefix || removeExtra;
  return (tokens) => {
    let text = '';
    let bytes: number[] = [];
    let isBosWs = true;
    let bosWsSeen = false;
    const flush = (): void => { if (bytes.length > 0) { text += decodeBytes(bytes); bytes = []; } };
    for (const t of tokens) {
      const type = types.get(t);
      if (type === SPM_PIECE_TYPE.byte) { bytes.push(parseByteToken(t)); continue; }
      flush();
      if (bosWsSeen || text.length > 0) isBosWs = false;
      bosWsSeen = false;
      if (type === SPM_PIECE_TYPE.control) continue;
      if (type === SPM_PIECE_TYPE.unknown) { text += unkSurface; continue; }
      // A string that is no piece of this model reads as the unknown id, whose text is the string itself.
      if (type === undefined) { text += t; continue; }
      let piece = t;
      if (isBosWs && stripFirst && piece.startsWith(SPACE_SYMBOL)) {
        piece = piece.slice(1);
        bosWsSeen = !removeExtra;
      }
      text += piece.replaceAll(SPACE_SYMBOL, ' ');
    }
    flush();
    return [text];
  };
}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** Bytes to text one character at a time; a byte that starts no valid character is one U+FFFD. */
function decodeBytes(b: number[]): string {
  let s = '';
  for (let i = 0; i < b.length;) {
    const c = b[i]!;
    const n = c < 0x80 ? 1 : c >= 0xc2 && c <= 0xdf ? 2 : c >= 0xe0 && c <= 0xef ? 3 : c >= 0xf0 && c <= 0xf4 ? 4 : 0;
    if (n > 0 && i + n <= b.length) {
      try {
        s += strictUtf8.decode(Uint8Array.from(b.slice(i, i + n)));
        i += n;
        continue;
      } catch {
        // falls through to the replacement character
      }
    }
    s += '\ufffd';
    i += 1;
  }
  return s;
}
