// Marian (opus-mt) tokenization as Hugging Face's MarianTokenizer does it: source.spm segments the
// input, vocab.json turns its pieces into ids (<unk> when missing), </s> is appended; ids decode
// through the target vocabulary (target_vocab.json with separate_vocabs) and target.spm. Not the
// Moses punctuation normalizer (optional in HF).
import { AddedTokens, type AddedToken } from './added.js';
import type { Decoder } from './decoders.js';
import { TokenizerFormatError, asObject } from './json.js';
import type { Model } from './model.js';
import { readVocabMap } from './load.js';
import type { Encoding, PostProcessor } from './postprocessors.js';
import { parseSentencePieceModel, SPM_PIECE_TYPE } from './spm-proto.js';
import { sentencePieceDecoder, sentencePieceParts } from './spm.js';
import { Tokenizer, type EncodeOptions, type EncodeResult, type TokenizerParts } from './tokenizer.js';

export interface MarianFiles {
  /** source.spm and target.spm bytes. */
  source: Uint8Array;
  target: Uint8Array;
  /** vocab.json (text or parsed): piece -> id, for the source side and, when shared, the target. */
  vocab: string | object;
  /** target_vocab.json, when the checkpoint has separate vocabularies. */
  targetVocab?: string | object;
  /** tokenizer_config.json fields: eos_token, unk_token, pad_token. */
  config?: Record<string, unknown>;
}

const LANG_CODE = /^>>.+<<$/;

/** The tokenizer of a Marian checkpoint; `where` names the directory in errors. */
export function tokenizerFromMarian(f: MarianFiles, where = 'marian'): Tokenizer {
  const src = parseSentencePieceModel(f.source, `${where}/source.spm`);
  const tgt = parseSentencePieceModel(f.target, `${where}/target.spm`);
  const source = readVocab(f.vocab, `${where}/vocab.json`);
  const target = f.targetVocab === undefined ? source : readVocab(f.targetVocab, `${where}/target_vocab.json`);
  const name = (key: string, dflt: string): string => {
    const v = f.config?.[key];
    return typeof v === 'string' ? v : typeof v === 'object' && v !== null && typeof (v as { content?: unknown }).content === 'string' ? (v as { content: string }).content : dflt;
  };
  const [eos, unk, pad] = [name('eos_token', '</s>'), name('unk_token', '<unk>'), name('pad_token', '<pad>')];
  const idOf = (tok: string, key: string): number => {
    const id = source.vocab.get(tok);
    if (id === undefined) throw new TokenizerFormatError(`${where}/vocab.json`, `has no ${key} '${tok}'`);
    return id;
  };
  const eosId = idOf(eos, 'eos_token');
  const unkId = idOf(unk, 'unk_token');
  const specials = [eos, unk, pad].filter((t) => source.vocab.has(t));
  const added: AddedToken[] = specials.map((t) => ({ id: source.vocab.get(t)!, content: t, special: true, lstrip: false, rstrip: false, singleWord: false }));
  // Language codes (>>fr<<) are vocabulary entries that the reference never hands to sentencepiece
  // (MarianTokenizer below keeps only one that opens the text).
  for (const [t, id] of source.vocab) if (LANG_CODE.test(t)) added.push({ id, content: t, special: false, lstrip: false, rstrip: false, singleWord: false });
  const parts = sentencePieceParts(src, false, `${where}/source.spm`);
  const srcUnk = src.pieces.findIndex((p) => p.type === SPM_PIECE_TYPE.unknown);
  const post: PostProcessor = (a, b, add) => {
    const out: Encoding = { ids: [...a.ids], offsets: [...a.offsets], specialTokensMask: [...a.specialTokensMask], typeIds: [...a.typeIds], tokens: [...a.tokens] };
    if (b !== null) for (let i = 0; i < b.ids.length; i++) { out.ids.push(b.ids[i]!); out.offsets.push(b.offsets[i]!); out.specialTokensMask.push(b.specialTokensMask[i]!); out.typeIds.push(0); out.tokens.push(b.tokens[i]!); }
    if (add) { out.ids.push(eosId); out.offsets.push([0, 0]); out.specialTokensMask.push(1); out.typeIds.push(0); out.tokens.push(eos); }
    return out;
  };
  // Separate vocabularies (MarianTokenizer's separate_vocabs): ids decode through target_vocab.json,
  // whose special tokens have ids of their own.
  const decoding = f.targetVocab === undefined ? undefined : { ids: target.ids, specials: new Set(specials.flatMap((t) => { const id = target.vocab.get(t); return id === undefined ? [] : [id]; })) };
  return new MarianTokenizer({
    model: new MarianModel(parts.model, srcUnk, source.vocab, target.ids, unkId),
    normalizer: parts.normalizer,
    preTokenizer: null,
    postProcessor: post,
    decoder: marianDecoder(sentencePieceDecoder(tgt), new Set(specials)),
    byteLevelDecoder: false,
    added: new AddedTokens(added),
  }, decoding);
}

const CODE_AT_START = /^>>.+?<</;
const ANY_CODE = />>.+?<</g;

/**
 * MarianTokenizer's language codes: one that opens the text is a token, every other one is
 * deleted. Deleted codes become spaces of the same length, which sentencepiece's whitespace rules
 * (remove_extra_whitespaces, the opus-mt setting) fold away, so offsets into the text still hold.
 */
function withoutCodes(text: string): string {
  if (typeof text !== 'string' || !text.includes('>>')) return text;
  const head = CODE_AT_START.exec(text)?.[0].length ?? 0;
  return text.slice(0, head) + text.slice(head).replace(ANY_CODE, (c) => ' '.repeat(c.length));
}

class MarianTokenizer extends Tokenizer {
  constructor(parts: TokenizerParts, private readonly target?: { ids: readonly string[]; specials: ReadonlySet<number> }) {
    super(parts);
  }

  /** With separate vocabularies: the target vocabulary's size (the ids decode takes). */
  override get vocabSize(): number {
    return this.target === undefined ? super.vocabSize : this.target.ids.length;
  }

  override idToToken(id: number): string | undefined {
    return this.target === undefined ? super.idToToken(id) : this.target.ids[id];
  }

  override isSpecial(id: number): boolean {
    return this.target === undefined ? super.isSpecial(id) : this.target.specials.has(id);
  }

  override tokenFor(id: number, index: number, skip: boolean): string | null {
    if (this.target === undefined) return super.tokenFor(id, index, skip);
    if (!Number.isInteger(id) || id < 0) throw new RangeError(`ids[${index}]: ${id} is not a token id`);
    const t = this.target.ids[id];
    if (t === undefined) throw new RangeError(`ids[${index}]: ${id} is not a token id (target vocabulary size ${this.target.ids.length})`);
    return skip && this.target.specials.has(id) ? null : t;
  }

  override encode(text: string, options: EncodeOptions = {}): number[] {
    return super.encode(withoutCodes(text), options.pair === undefined ? options : { ...options, pair: withoutCodes(options.pair) });
  }

  override encodeWithOffsets(text: string, options: EncodeOptions = {}): EncodeResult {
    return super.encodeWithOffsets(withoutCodes(text), options.pair === undefined ? options : { ...options, pair: withoutCodes(options.pair) });
  }
}

function readVocab(v: string | object, path: string): { vocab: Map<string, number>; ids: string[] } {
  let o: unknown = v;
  if (typeof v === 'string') {
    try { o = JSON.parse(v); } catch (e) { throw new TokenizerFormatError(path, `not valid JSON: ${(e as Error).message}`); }
  }
  return readVocabMap(asObject(o, path), path);
}

/**
 * Source pieces to vocabulary ids: sentencepiece's pieces (an unknown stretch spelled as the text
 * it covers, as sentencepiece reports it) looked up in vocab.json; ids decode through the target vocabulary.
 */
class MarianModel implements Model {
  readonly kind = 'Unigram';
  readonly size: number;

  constructor(private readonly spm: Model, private readonly spmUnk: number, private readonly vocab: ReadonlyMap<string, number>,
    private readonly targetIds: readonly string[], private readonly unkId: number) {
    let n = targetIds.length;
    for (const id of vocab.values()) if (id + 1 > n) n = id + 1;
    this.size = n;
  }

  tokenToId(token: string): number | undefined {
    return this.vocab.get(token);
  }

  idToToken(id: number): string | undefined {
    return this.targetIds[id];
  }

  encodeWord(word: string, out: number[]): void {
    this.encodeWordSpans(word, out, [], []);
  }

  encodeWordSpans(word: string, ids: number[], starts: number[], ends: number[]): void {
    const n = ids.length;
    this.spm.encodeWordSpans(word, ids, starts, ends);
    for (let i = n; i < ids.length; i++) {
      const piece = ids[i] === this.spmUnk ? word.slice(starts[i], ends[i]) : this.spm.idToToken(ids[i]!)!;
      ids[i] = this.vocab.get(piece) ?? this.unkId;
    }
  }
}

/**
 * MarianTokenizer.convert_tokens_to_string: special tokens are written as they are, each followed
 * by a space; the runs between them go through target.spm's decoding; then '▁' becomes a space
 * and the ends are trimmed.
 */
function marianDecoder(spm: Decoder, specials: ReadonlySet<string>): Decoder {
  return (tokens) => {
    let out = '';
    let run: string[] = [];
    for (const t of tokens) {
      if (specials.has(t)) { out += `${spm(run).join('')}${t} `; run = []; } else run.push(t);
    }
    out += spm(run).join('');
    return [out.replaceAll('\u2581', ' ').trim()];
  };
}
