// The Tokenizer: added-token split, normalizer, pre-tokenizer, model, post-processor on the way
// in; decoder and streaming on the way out. Not file parsing (see load.ts, gpt2.ts, gguf.ts).
import { utf8Decoder } from './bytes.js';
import { AddedTokens } from './added.js';
import { byteLevelBytes, type Decoder } from './decoders.js';
import type { Model } from './model.js';
import type { Normalizer } from './normalizers.js';
import { emptyEncoding, type Encoding, type PostProcessor } from './postprocessors.js';
import type { PreTokenizer } from './pretokenizers.js';
import { pieceSpan, wholePiece, type Piece } from './text.js';
import { StreamDecoder } from './stream.js';
import { readTruncation, truncatePair, type TruncationOptions } from './truncation.js';
import { tokenizerFromGGUF, type GGUFMetadata } from './gguf.js';
import { tokenizerFromGPT2 } from './gpt2.js';
import { tokenizerFromJSON } from './load.js';
import { tokenizerFromSentencePiece, type SentencePieceOptions } from './spm.js';

export interface EncodeOptions {
  /** Let the post-processor add special tokens such as BOS or [CLS] ... [SEP]. Default true. */
  addSpecialTokens?: boolean;
  /** A second sequence (sentence pairs for BERT-style models). */
  pair?: string;
  /**
   * Cut the result to `maxLength` tokens (special tokens included), as Hugging Face tokenizers'
   * truncation does. Default: no truncation. The windows cut off come back in `overflowing`.
   */
  truncation?: TruncationOptions;
}

/** An encoding as a model takes it: Encoding plus the attention mask and what truncation cut off. */
export interface EncodeResult extends Encoding {
  /** 1 for every token: nothing here pads. */
  attentionMask: number[];
  /** Windows beyond maxLength, each post-processed like the main one (empty without truncation). */
  overflowing: EncodeResult[];
}

export interface DecodeOptions {
  /** Leave out tokens marked special (BOS, EOS, [CLS], padding ...). Default false. */
  skipSpecialTokens?: boolean;
}

export interface TokenizerParts {
  model: Model;
  normalizer: Normalizer | null;
  preTokenizer: PreTokenizer | null;
  postProcessor: PostProcessor | null;
  decoder: Decoder | null;
  /** The decoder is exactly ByteLevel: ids map to bytes and decode through UTF-8. */
  byteLevelDecoder: boolean;
  added: AddedTokens;
}

export class Tokenizer {
  readonly model: Model;
  private readonly normalizer: Normalizer | null;
  private readonly preTokenizer: PreTokenizer | null;
  private readonly postProcessor: PostProcessor | null;
  private readonly decoder: Decoder | null;
  readonly byteLevelDecoder: boolean;
  readonly added: AddedTokens;
  // ByteLevel decoding table, built on first use: the bytes of id i are
  // data[start[i], start[i + 1]); flags: 1 = no such id, 2 = special.
  private bytes: { data: Uint8Array; start: Int32Array; flags: Uint8Array } | null = null;
  // layout()'s results by (pair ? 2 : 0) + (addSpecialTokens ? 1 : 0); null: use the full path.
  private readonly layouts = new Map<number, number[] | null>();

  /** From Hugging Face tokenizer.json text or its parsed object. */
  static fromJSON(source: string | object): Tokenizer {
    return tokenizerFromJSON(source);
  }

  /** From GPT-2's vocab.json (encoder.json) and merges.txt (vocab.bpe) contents. */
  static fromGPT2(vocabJson: string | object, mergesText: string): Tokenizer {
    return tokenizerFromGPT2(vocabJson, mergesText);
  }

  /** From tokenizer.ggml.* GGUF metadata given as a plain object of key -> value. */
  static fromGGUF(meta: GGUFMetadata): Tokenizer {
    return tokenizerFromGGUF(meta);
  }

  /** From the bytes of a SentencePiece `.model` file (spiece.model, source.spm): sentencepiece's own ids. */
  static fromSentencePiece(bytes: Uint8Array, options: SentencePieceOptions = {}): Tokenizer {
    return tokenizerFromSentencePiece(bytes, options);
  }

  constructor(parts: TokenizerParts) {
    this.model = parts.model;
    this.normalizer = parts.normalizer;
    this.preTokenizer = parts.preTokenizer;
    this.postProcessor = parts.postProcessor;
    this.decoder = parts.decoder;
    this.byteLevelDecoder = parts.byteLevelDecoder;
    this.added = parts.added;
  }

  /** Ids, added tokens included. */
  get vocabSize(): number {
    let n = this.model.size;
    for (const id of this.added.byId.keys()) if (id + 1 > n) n = id + 1;
    return n;
  }

  tokenToId(token: string): number | undefined {
    return this.added.byContent.get(token)?.id ?? this.model.tokenToId(token);
  }

  idToToken(id: number): string | undefined {
    return this.added.byId.get(id)?.content ?? this.model.idToToken(id);
  }

  /** True for added tokens marked special. */
  isSpecial(id: number): boolean {
    return this.added.byId.get(id)?.special === true;
  }

  /** Token ids of `text` (and of options.pair), post-processed and truncated as options say. */
  encode(text: string, options: EncodeOptions = {}): number[] {
    checkText(text, 'text');
    if (options.pair !== undefined) checkText(options.pair, 'options.pair');
    if (options.truncation === undefined) {
      // Straight into the result, special tokens in place: no Encoding, no copy of a long text's ids.
      const layout = this.layout(options.pair !== undefined, options.addSpecialTokens ?? true);
      if (layout !== null) {
        const out = new IdList(ID_CHUNK);
        for (const id of layout) {
          if (id === MARK_A) this.encodeIds(wellFormed(text), out);
          else if (id === MARK_B) this.encodeIds(wellFormed(options.pair!), out);
          else out.push(id);
        }
        return out.toArray();
      }
    }
    const ids = new IdList();
    const words: number[] | null = options.truncation === undefined ? null : [];
    this.encodeIds(wellFormed(text), ids, words);
    let pair: IdList | null = null;
    const pairWords: number[] | null = options.truncation === undefined ? null : [];
    if (options.pair !== undefined) {
      pair = new IdList();
      this.encodeIds(wellFormed(options.pair), pair, pairWords);
    }
    return this.finish(idsOnly(ids.toArray()), pair === null ? null : idsOnly(pair.toArray()), options, words, pairWords).ids;
  }

  /** Ids of many texts. */
  encodeBatch(texts: readonly string[], options: EncodeOptions = {}): number[][] {
    if (!Array.isArray(texts)) throw new TypeError('texts: expected an array of strings');
    return texts.map((t, i) => { checkText(t, `texts[${i}]`); return this.encode(t, options); });
  }

  /**
   * Ids with UTF-16 spans into the input (the pair's spans index options.pair), token strings,
   * type ids, attention and special-token masks, and the overflowing windows of truncation.
   */
  encodeWithOffsets(text: string, options: EncodeOptions = {}): EncodeResult {
    checkText(text, 'text');
    const words: number[] = [];
    const pairWords: number[] = [];
    const a = this.encodeSpans(wellFormed(text), words);
    let b: Encoding | null = null;
    if (options.pair !== undefined) { checkText(options.pair, 'options.pair'); b = this.encodeSpans(wellFormed(options.pair), pairWords); }
    return this.finish(a, b, options, words, pairWords);
  }

  /** Special tokens the post-processor adds around one sequence or a pair. */
  numSpecialTokens(pair: boolean): number {
    if (this.postProcessor === null) return 0;
    return this.postProcessor(emptyEncoding(), pair ? emptyEncoding() : null, true).ids.length;
  }

  /**
   * Truncation, then the post-processor, as the reference orders them. `words`, `pairWords`:
   * token counts at the end of each pre-tokenized word (or added token) of each sequence.
   */
  private finish(a: Encoding, b: Encoding | null, options: EncodeOptions, words: number[] | null = null, pairWords: number[] | null = null): EncodeResult {
    const add = options.addSpecialTokens ?? true;
    if (options.truncation === undefined) return withMask(this.post(a, b, add, false), []);
    const t = readTruncation(options.truncation);
    const special = add ? this.numSpecialTokens(b !== null) : 0;
    if (t.maxLength < special) throw new RangeError(`options.truncation.maxLength: ${t.maxLength} leaves no room for the ${special} special tokens`);
    const [ta, tb] = truncatePair(a, b, t, t.maxLength - special, words ?? [], pairWords ?? []);
    for (const o of ta.overflowing) o.overflowTypeId = 0;
    for (const o of tb?.overflowing ?? []) o.overflowTypeId = 1;
    // Every overflowing window of one sequence meets the other's kept window and each of its
    // windows; then the kept first window meets the second's windows (Encoding::merge_with).
    const over: EncodeResult[] = [];
    for (const ao of ta.overflowing) {
      over.push(withMask(this.post(ao, tb?.kept ?? null, add), []));
      for (const bo of tb?.overflowing ?? []) over.push(withMask(this.post(ao, bo, add), []));
    }
    for (const bo of tb?.overflowing ?? []) over.push(withMask(this.post(ta.kept, bo, add), []));
    return withMask(this.post(ta.kept, tb?.kept ?? null, add), over);
  }

  /**
   * The post-processor's output as a layout: special ids, and a marker where each sequence goes
   * (MARK_A, MARK_B). Post-processors place each sequence whole and never read its ids, so
   * running one on one-token marker sequences gives it. Null when the layout does not hold each
   * marker once: encode() then takes the full path.
   */
  private layout(pair: boolean, add: boolean): number[] | null {
    const key = (pair ? 2 : 0) + (add ? 1 : 0);
    let layout = this.layouts.get(key);
    if (layout === undefined) {
      const marked = this.post(idsOnly([MARK_A]), pair ? idsOnly([MARK_B]) : null, add, false).ids;
      const once = (m: number): boolean => marked.filter((id) => id === m).length === 1;
      layout = once(MARK_A) && (pair ? once(MARK_B) : !marked.includes(MARK_B)) ? marked : null;
      this.layouts.set(key, layout);
    }
    return layout;
  }

  /** The post-processor, on copies unless told otherwise: offset trimming rewrites its inputs. */
  private post(a: Encoding, b: Encoding | null, add: boolean, copy = true): Encoding {
    const x = copy ? copyEncoding(a) : a;
    const y = b === null || !copy ? b : copyEncoding(b);
    if (this.postProcessor !== null) return this.postProcessor(x, y, add);
    if (y === null) return x;
    const out = emptyEncoding();
    for (const [e, type] of [[x, 0], [y, 1]] as const) {
      e.ids.forEach((id, i) => { out.ids.push(id); out.offsets.push(e.offsets[i]!); out.tokens.push(e.tokens[i]!); out.specialTokensMask.push(e.specialTokensMask[i]!); out.typeIds.push(type); });
    }
    return out;
  }

  /** Appends the ids of `text` to `out`; `words`, when given, gets out.length after each word. */
  private encodeIds(text: string, out: IdList, words: number[] | null = null): void {
    const encodeWord = (w: string): void => {
      this.model.encodeWord(w, out.tail);
      out.roll();
      words?.push(out.length);
    };
    for (const seg of this.added.split(text)) {
      if (seg.id >= 0) { out.push(seg.id); words?.push(out.length); continue; }
      const part = seg.start === 0 && seg.end === text.length ? text : text.slice(seg.start, seg.end);
      const pt = this.preTokenizer;
      if (this.normalizer === null && pt?.eachWord !== undefined) {
        pt.eachWord(part, encodeWord);
        continue;
      }
      let piece = wholePiece(part, seg.start, true);
      if (this.normalizer !== null) piece = this.normalizer(piece);
      const word = (p: Piece): void => encodeWord(p.text);
      if (pt === null) word(piece);
      else pt.eachPiece(piece, seg.start === 0, word);
    }
  }

  /** Ids, spans and tokens of `text`; `words` gets the token count after each word. */
  private encodeSpans(text: string, words: number[] = []): Encoding {
    const out = emptyEncoding();
    const ids: number[] = [];
    const starts: number[] = [];
    const ends: number[] = [];
    for (const seg of this.added.split(text)) {
      if (seg.id >= 0) {
        out.ids.push(seg.id); out.offsets.push([seg.start, seg.end]); out.tokens.push(this.idToToken(seg.id) ?? '');
        out.specialTokensMask.push(0); out.typeIds.push(0);
        words.push(out.ids.length);
        continue;
      }
      let piece = wholePiece(text.slice(seg.start, seg.end), seg.start);
      if (this.normalizer !== null) piece = this.normalizer(piece);
      const word = (p: Piece): void => {
        ids.length = 0; starts.length = 0; ends.length = 0;
        this.model.encodeWordSpans(p.text, ids, starts, ends);
        ids.forEach((id, i) => {
          out.ids.push(id); out.offsets.push(pieceSpan(p, starts[i]!, ends[i]!)); out.tokens.push(this.idToToken(id) ?? '');
          out.specialTokensMask.push(0); out.typeIds.push(0);
        });
        words.push(out.ids.length);
      };
      if (this.preTokenizer === null) word(piece);
      else this.preTokenizer.eachPiece(piece, seg.start === 0, word);
    }
    return out;
  }

  /** Text of `ids`. Throws RangeError naming the first id that is not in the vocabulary. */
  decode(ids: ArrayLike<number>, options: DecodeOptions = {}): string {
    const skip = options.skipSpecialTokens ?? false;
    if (this.byteLevelDecoder) {
      const { data, start, flags } = this.byteTable();
      const v = flags.length;
      let n = 0;
      for (let i = 0; i < ids.length; i++) {
        const id = ids[i]!;
        if (!(id >= 0 && id < v && (id | 0) === id) || flags[id] === 1) this.tokenFor(id, i, skip);
        if (skip && flags[id] === 2) continue;
        n += start[id + 1]! - start[id]!;
      }
      const out = new Uint8Array(n);
      let o = 0;
      for (let i = 0; i < ids.length; i++) {
        const id = ids[i]!;
        if (skip && flags[id] === 2) continue;
        for (let k = start[id]!, e = start[id + 1]!; k < e; k++) out[o++] = data[k]!;
      }
      return utf8Decoder.decode(out);
    }
    const tokens: string[] = [];
    for (let i = 0; i < ids.length; i++) {
      const t = this.tokenFor(ids[i]!, i, skip);
      if (t !== null) tokens.push(t);
    }
    return this.decodeTokens(tokens);
  }

  /** Runs the decoder chain over token strings. */
  decodeTokens(tokens: string[]): string {
    return this.decoder === null ? tokens.join(' ') : this.decoder(tokens).join('');
  }

  /** The token string of one id, or null when it is special and skipped. */
  tokenFor(id: number, index: number, skip: boolean): string | null {
    if (!Number.isInteger(id) || id < 0) throw new RangeError(`ids[${index}]: ${id} is not a token id`);
    const a = this.added.byId.get(id);
    if (a !== undefined) return skip && a.special ? null : a.content;
    const t = this.model.idToToken(id);
    if (t === undefined) throw new RangeError(`ids[${index}]: ${id} is not a token id (vocabulary size ${this.vocabSize})`);
    return t;
  }

  /** Bytes one id decodes to under a ByteLevel decoder (null when special and skipped). */
  bytesOf(id: number, index: number, skip: boolean): Uint8Array | null {
    const { data, start, flags } = this.byteTable();
    if (!(id >= 0 && id < flags.length && (id | 0) === id) || flags[id] === 1) this.tokenFor(id, index, skip);
    if (skip && flags[id] === 2) return null;
    return data.subarray(start[id]!, start[id + 1]!);
  }

  private byteTable(): { data: Uint8Array; start: Int32Array; flags: Uint8Array } {
    if (this.bytes !== null) return this.bytes;
    const v = this.vocabSize;
    const all: number[] = [];
    const start = new Int32Array(v + 1);
    const flags = new Uint8Array(v);
    for (let i = 0; i < v; i++) {
      const t = this.idToToken(i);
      if (t === undefined) flags[i] = 1;
      else {
        byteLevelBytes(t, all);
        if (this.isSpecial(i)) flags[i] = 2;
      }
      start[i + 1] = all.length;
    }
    this.bytes = { data: Uint8Array.from(all), start, flags };
    return this.bytes;
  }

  /** Incremental decoding: push ids, get only text that is complete. */
  createStreamDecoder(options: DecodeOptions = {}): StreamDecoder {
    return new StreamDecoder(this, options.skipSpecialTokens ?? false);
  }
}

function copyEncoding(e: Encoding): Encoding {
  const c: Encoding = { ids: e.ids.slice(), offsets: e.offsets.slice(), specialTokensMask: e.specialTokensMask.slice(), typeIds: e.typeIds.slice(), tokens: e.tokens.slice() };
  if (e.overflowTypeId !== undefined) c.overflowTypeId = e.overflowTypeId;
  return c;
}

function withMask(e: Encoding, overflowing: EncodeResult[]): EncodeResult {
  return { ...e, attentionMask: new Array<number>(e.ids.length).fill(1), overflowing };
}

/** An Encoding carrying ids only, for post-processors when nobody asked for offsets. */
function idsOnly(ids: number[]): Encoding {
  const n = ids.length;
  return { ids, offsets: new Array<[number, number]>(n).fill([0, 0]), specialTokensMask: new Array<number>(n).fill(0), typeIds: new Array<number>(n).fill(0), tokens: new Array<string>(n).fill('') };
}

/** Ids per chunk of a long encode. */
const ID_CHUNK = 1 << 16;

/**
 * Ids appended in chunks, joined once at the end: one array that grows by copying holds up to
 * 2.5 times a long text's ids at its worst moment. Models append to `tail`, then roll().
 */
class IdList {
  private readonly done: number[][] = [];
  private doneLength = 0;
  tail: number[] = [];

  constructor(private readonly chunk = Infinity) {}

  get length(): number {
    return this.doneLength + this.tail.length;
  }

  push(id: number): void {
    this.tail.push(id);
    this.roll();
  }

  /** Puts a full tail aside. */
  roll(): void {
    if (this.tail.length < this.chunk) return;
    this.done.push(this.tail);
    this.doneLength += this.tail.length;
    this.tail = [];
  }

  toArray(): number[] {
    return this.done.length === 0 ? this.tail : ([] as number[]).concat(...this.done, this.tail);
  }
}

// Where layout() places the first and the second sequence: never a token id.
const MARK_A = -1;
const MARK_B = -2;

function checkText(t: unknown, name: string): asserts t is string {
  if (typeof t !== 'string') throw new TypeError(`${name}: expected a string, got ${t === null ? 'null' : typeof t}`);
}

/**
 * Lone surrogates cannot be UTF-8; the references see U+FFFD in their place. The replacement
 * is one UTF-16 unit, like the surrogate, so offsets into the caller's string still hold.
 */
function wellFormed(t: string): string {
  LONE_SURROGATE.lastIndex = 0;
  if (!LONE_SURROGATE.test(t)) return t;
  LONE_SURROGATE.lastIndex = 0;
  return t.replace(LONE_SURROGATE, '\ufffd');
}

const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;
