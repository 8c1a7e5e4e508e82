// Tokenizers from GGUF metadata (tokenizer.ggml.* keys, passed as a plain object) and the
// reverse, so model files can embed a vocabulary. Not a GGUF file reader.
import { AddedTokens, type AddedToken } from './added.js';
import { BpeModel } from './bpe.js';
import { byteLevelDecoder, byteFallbackDecoder, fuseDecoder, stripDecoder, wordPieceDecoder, type Decoder } from './decoders.js';
import { TokenizerFormatError, asArray, asBool, asId, asNumber, asString } from './json.js';
import { bertNormalizer, unicodeNormalizer, type Normalizer } from './normalizers.js';
import type { PostProcessor } from './postprocessors.js';
import { emptyEncoding } from './postprocessors.js';
import { PieceBuilder, type Piece } from './text.js';
import { buildPreTokenizer, byteLevelPreTokenizer } from './pretokenizers.js';
import { sentencePieceParts } from './spm.js';
import { SPM_MODEL_TYPE, type SpmModelProto } from './spm-proto.js';
import { Tokenizer } from './tokenizer.js';
import { WordPieceModel } from './wordpiece.js';

/** GGUF metadata values as a reader returns them: strings, numbers, booleans, arrays. */
export type GGUFMetadata = Record<string, unknown>;

/** llama.cpp's token types (tokenizer.ggml.token_type). */
export const GGUF_TOKEN_TYPE = { normal: 1, unknown: 2, control: 3, userDefined: 4, unused: 5, byte: 6 } as const;

const K = 'tokenizer.ggml.';

/** Llama 3's pre-tokenizer pattern (llama.cpp calls it 'llama-bpe'), in tokenizer.json syntax. */
export const LLAMA3_PATTERN = "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
/** Qwen2's: Llama 3's with single digits. */
export const QWEN2_PATTERN = "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
/** GPT-4o's (o200k; Phi-4-mini's tokenizer): case-aware words with trailing contractions, up to three digits. */
export const GPT4O_PATTERN =
  "[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]*[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?|" +
  "[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]+[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?|" +
  "\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n/]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
/** Mistral's Tekken (Mistral NeMo): GPT-4o's without contractions, single digits. */
export const TEKKEN_PATTERN =
  "[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]*[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]+|" +
  "[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]+[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]*|" +
  "\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n/]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

/**
 * How a byte-level BPE vocabulary splits text before its merges, by llama.cpp's tokenizer.ggml.pre
 * name (llama-vocab.cpp's LLAMA_VOCAB_PRE_TYPE_*), as the tokenizer.json it was converted from
 * spells it: `split` is Isolated regex splits, each splitting the pieces of the one before,
 * followed by a byte-level step without GPT-2's regex; without it the byte-level step splits with
 * GPT-2's regex, after single digits are split off when `digits` is set. `ignoreMerges` takes a whole word from the vocabulary before merging
 * (llama.cpp sets it for these types, as Llama 3's tokenizer.json does). `nfc`: Qwen2's
 * tokenizer.json normalizes to NFC (llama.cpp does not normalize; only non-NFC text differs).
 */
export interface GGUFPreType {
  readonly split?: readonly string[];
  readonly digits?: boolean;
  readonly ignoreMerges?: boolean;
  readonly nfc?: boolean;
}
const GPT2_PRE: GGUFPreType = {};
const LLAMA3_PRE: GGUFPreType = { split: [LLAMA3_PATTERN], ignoreMerges: true };
const QWEN2_PRE: GGUFPreType = { split: [QWEN2_PATTERN], nfc: true };
/** GPT-2's regex as one Isolated split. */
const GPT2_PATTERN = "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)";
const DIGITS_PRE: GGUFPreType = { digits: true };
export const GGUF_PRE_TYPES: Readonly<Record<string, GGUFPreType>> = {
  // GPT-2 (llama.cpp writes 'gpt-2'; 'gpt2' is attnode's own spelling), and Phi-2's.
  'gpt2': GPT2_PRE, 'gpt-2': GPT2_PRE, 'phi-2': GPT2_PRE,
  // llama.cpp's fallback: punctuation runs, GPT-2's split, digit runs, then digits in threes.
  'default': { split: ['[\\p{P}\\$\\+<=>\\^~\\|]+', GPT2_PATTERN, '\\p{N}+', '[0-9][0-9][0-9]'] },
  // Llama 3.x (and the DeepSeek-R1 distills of it), Falcon 3.
  'llama-bpe': LLAMA3_PRE, 'llama3': LLAMA3_PRE, 'llama-v3': LLAMA3_PRE, 'falcon3': LLAMA3_PRE,
  // Qwen2 / Qwen2.5 / Qwen3 and the DeepSeek-R1 distills of Qwen.
  'qwen2': QWEN2_PRE, 'deepseek-r1-qwen': QWEN2_PRE,
  // SmolLM / SmolLM2 (Llama-shaped), StarCoder, Refact: single digits, then GPT-2's split.
  'smollm': DIGITS_PRE, 'starcoder': DIGITS_PRE, 'refact': DIGITS_PRE,
  // Phi-4-mini (model_type phi3).
  'gpt-4o': { split: [GPT4O_PATTERN] },
  // Mistral NeMo and later Mistral models.
  'tekken': { split: [TEKKEN_PATTERN], ignoreMerges: true },
};

function get<T>(meta: GGUFMetadata, key: string, read: (v: unknown, p: string) => T): T | undefined {
  const v = meta[K + key];
  return v === undefined || v === null ? undefined : read(v, K + key);
}

function need<T>(meta: GGUFMetadata, key: string, read: (v: unknown, p: string) => T): T {
  const v = get(meta, key, read);
  if (v === undefined) throw new TokenizerFormatError(K + key, 'missing');
  return v;
}

function numbers(v: unknown, path: string): number[] {
  if (ArrayBuffer.isView(v) && !(v instanceof DataView)) return Array.from(v as unknown as ArrayLike<number>);
  return asArray(v, path).map((x, i) => asNumber(x, `${path}[${i}]`));
}

function strings(v: unknown, path: string): string[] {
  return asArray(v, path).map((x, i) => asString(x, `${path}[${i}]`));
}

/** Builds a tokenizer from tokenizer.ggml.* metadata: model 'gpt2', 'llama', 'bert' or 't5'. */
export function tokenizerFromGGUF(meta: GGUFMetadata): Tokenizer {
  if (typeof meta !== 'object' || meta === null) throw new TypeError('meta: expected an object of GGUF key -> value');
  const model = need(meta, 'model', asString);
  const tokens = need(meta, 'tokens', strings);
  const types = get(meta, 'token_type', numbers) ?? [];
  if (types.length !== 0 && types.length !== tokens.length) throw new TokenizerFormatError(`${K}token_type`, `has ${types.length} entries, tokens has ${tokens.length}`);
  const vocab = new Map<string, number>();
  tokens.forEach((t, i) => { if (!vocab.has(t)) vocab.set(t, i); });
  const id = (key: string): number | undefined => {
    const v = get(meta, key, asId);
    if (v !== undefined && v >= tokens.length) throw new TokenizerFormatError(K + key, `${v} is outside the vocabulary (size ${tokens.length})`);
    return v;
  };
  const bos = id('bos_token_id');
  const eos = id('eos_token_id');
  const unk = id('unknown_token_id');
  const sep = id('seperator_token_id') ?? id('separator_token_id');
  const cls = id('cls_token_id');
  // Control and user-defined tokens are matched whole in the text, like HF added tokens.
  const added: AddedToken[] = [];
  types.forEach((t, i) => {
    if (t === GGUF_TOKEN_TYPE.control || t === GGUF_TOKEN_TYPE.userDefined) {
      added.push({ id: i, content: tokens[i]!, special: t === GGUF_TOKEN_TYPE.control, lstrip: false, rstrip: false, singleWord: false });
    }
  });
  const addBos = get(meta, 'add_bos_token', asBool) ?? model === 'llama';
  const addEos = get(meta, 'add_eos_token', asBool) ?? false;
  const ids: string[] = tokens;
  switch (model) {
    case 'gpt2': {
      const pre = get(meta, 'pre', asString) ?? 'gpt2';
      const kind = Object.hasOwn(GGUF_PRE_TYPES, pre) ? GGUF_PRE_TYPES[pre] : undefined;
      // Another split would give other ids without a word: refused by name.
      if (!kind) throw new TokenizerFormatError(`${K}pre`, `pre-tokenizer '${pre}' is not supported (supported: ${Object.keys(GGUF_PRE_TYPES).join(', ')})`);
      const merges = need(meta, 'merges', strings).map((m, i): [string, string] => {
        const sp = m.indexOf(' ', 1);
        if (sp < 0) throw new TokenizerFormatError(`${K}merges[${i}]`, `expected "left right", got ${JSON.stringify(m)}`);
        return [m.slice(0, sp), m.slice(sp + 1)];
      });
      const bpe = new BpeModel(vocab, ids, merges, {
        byteLevel: true, unkToken: null, continuingSubwordPrefix: null, endOfWordSuffix: null, fuseUnk: false, byteFallback: false, ignoreMerges: kind.ignoreMerges === true,
      }, { vocab: `${K}tokens`, merges: `${K}merges`, unk: `${K}unknown_token_id` });
      const byteLevel = { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: kind.split === undefined };
      const steps = kind.split !== undefined
        ? [...kind.split.map((p) => ({ type: 'Split', pattern: { Regex: p }, behavior: 'Isolated', invert: false })), byteLevel]
        : kind.digits ? [{ type: 'Digits', individual_digits: true }, byteLevel] : undefined;
      const preTokenizer = steps ? buildPreTokenizer({ type: 'Sequence', pretokenizers: steps }, `${K}pre`) : byteLevelPreTokenizer(false, true);
      return new Tokenizer({
        model: bpe, normalizer: kind.nfc ? unicodeNormalizer('NFC') : null, preTokenizer, postProcessor: bosEos(addBos ? bos : undefined, addEos ? eos : undefined, tokens),
        decoder: byteLevelDecoder, byteLevelDecoder: true, added: new AddedTokens(added),
      });
    }
    case 'llama': {
      const scores = need(meta, 'scores', numbers);
      if (scores.length !== tokens.length) throw new TokenizerFormatError(`${K}scores`, `has ${scores.length} entries, tokens has ${tokens.length}`);
      const bpe = new BpeModel(vocab, ids, [], {
        byteLevel: false, unkToken: unk === undefined ? null : tokens[unk]!, continuingSubwordPrefix: null, endOfWordSuffix: null, fuseUnk: true, byteFallback: true, ignoreMerges: false,
      }, { vocab: `${K}tokens`, merges: `${K}merges`, unk: `${K}unknown_token_id` }, scores);
      const spaces = get(meta, 'add_space_prefix', asBool) ?? true;
      const decoder: Decoder = (ts) => {
        const out = fuseDecoder(byteFallbackDecoder(ts.map((t) => t.replaceAll('\u2581', ' '))));
        return spaces ? stripDecoder(' ', 1, 0)(out) : out;
      };
      return new Tokenizer({
        model: bpe, normalizer: sentencepieceNormalizer(spaces), preTokenizer: null, postProcessor: bosEos(addBos ? bos : undefined, addEos ? eos : undefined, tokens),
        decoder, byteLevelDecoder: false, added: new AddedTokens(added),
      });
    }
    case 'bert': {
      // llama.cpp stores BERT vocabularies with word starts marked by U+2581 and no '##';
      // turn them back into WordPiece's spelling.
      const phantom = tokens.some((t) => t.startsWith('\u2581')) && !tokens.some((t) => t.startsWith('##'));
      const wp = phantom ? tokens.map((t, i) => (types[i] === GGUF_TOKEN_TYPE.control ? t : t.startsWith('\u2581') ? t.slice(1) : `##${t}`)) : tokens;
      const wv = new Map<string, number>();
      wp.forEach((t, i) => { if (!wv.has(t)) wv.set(t, i); });
      if (unk === undefined) throw new TokenizerFormatError(`${K}unknown_token_id`, 'missing (WordPiece needs an unknown token)');
      const model = new WordPieceModel(wv, wp, wp[unk]!, '##', 100, `${K}tokens`);
      const lower = (meta['tokenizer.ggml.lowercase'] as boolean | undefined) ?? true;
      const c = cls ?? bos;
      const s = sep ?? eos;
      return new Tokenizer({
        model, normalizer: bertNormalizer(true, true, lower, lower), preTokenizer: buildPreTokenizer({ type: 'BertPreTokenizer' }, 'pre_tokenizer'),
        postProcessor: bosEos(c, s, wp), decoder: wordPieceDecoder('##', true), byteLevelDecoder: false,
        added: new AddedTokens(added.map((a) => ({ ...a, content: wp[a.id]! }))),
      });
    }
    case 't5': return t5Tokenizer(meta, tokens, types, unk, eos, bos, addBos, get(meta, 'add_eos_token', asBool) ?? true);
    default: throw new TokenizerFormatError(`${K}model`, `unknown model '${model}' (supported: gpt2, llama, bert, t5)`);
  }
}

/**
 * llama.cpp's 't5' vocabulary (its UGM tokenizer): a sentencepiece Unigram model whose pieces,
 * scores and piece types (tokenizer.ggml.token_type uses sentencepiece's numbering) and
 * normalizer (precompiled_charsmap, add_space_prefix, remove_extra_whitespaces; whitespace
 * always escaped as U+2581) are the metadata, so it tokenizes as sentencepiece does with the
 * .model it came from. Control and unknown pieces in the text are matched as special tokens, as
 * Hugging Face's T5 tokenizer does; EOS is appended (llama.cpp's default for 't5').
 */
function t5Tokenizer(meta: GGUFMetadata, tokens: string[], types: number[], unk: number | undefined, eos: number | undefined, bos: number | undefined,
  addBos: boolean, addEos: boolean): Tokenizer {
  const scores = need(meta, 'scores', numbers);
  if (scores.length !== tokens.length) throw new TokenizerFormatError(`${K}scores`, `has ${scores.length} entries, tokens has ${tokens.length}`);
  if (types.length !== tokens.length) throw new TokenizerFormatError(`${K}token_type`, `is required for 't5' (one type per token; tokens has ${tokens.length})`);
  types.forEach((t, i) => {
    if (!Number.isInteger(t) || t < GGUF_TOKEN_TYPE.normal || t > GGUF_TOKEN_TYPE.byte) throw new TokenizerFormatError(`${K}token_type[${i}]`, `${t} is not a token type (1..6)`);
  });
  const unkId = unk ?? types.indexOf(GGUF_TOKEN_TYPE.unknown);
  if (unkId < 0) throw new TokenizerFormatError(`${K}unknown_token_id`, "missing, and no token has the unknown type (a 't5' vocabulary needs one)");
  // Any other unknown-typed token would be a second unknown piece, which sentencepiece refuses: it is then a control token.
  const pieces = tokens.map((piece, i) => ({ piece, score: scores[i]!, type: i !== unkId && types[i] === GGUF_TOKEN_TYPE.unknown ? GGUF_TOKEN_TYPE.control : i === unkId ? GGUF_TOKEN_TYPE.unknown : types[i]! }));
  const charsmap = get(meta, 'precompiled_charsmap', (v, p) => {
    if (v instanceof Uint8Array) return v;
    if (v instanceof Int8Array) return new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
    throw new TokenizerFormatError(p, 'expected an array of UINT8 or INT8 (the charsmap bytes)');
  });
  const proto: SpmModelProto = {
    pieces,
    trainer: {
      modelType: SPM_MODEL_TYPE.unigram, byteFallback: types.includes(GGUF_TOKEN_TYPE.byte), treatWhitespaceAsSuffix: false,
      unkSurface: ' \u2047 ', unkId, bosId: bos ?? -1, eosId: eos ?? -1, padId: -1,
    },
    normalizer: {
      name: 'gguf', charsmap: charsmap ?? new Uint8Array(0),
      addDummyPrefix: get(meta, 'add_space_prefix', asBool) ?? true,
      removeExtraWhitespaces: get(meta, 'remove_extra_whitespaces', asBool) ?? true,
      escapeWhitespaces: true,
    },
    denormalizer: null,
  };
  const parts = sentencePieceParts(proto, true, 'tokenizer.ggml');
  return new Tokenizer({ ...parts, postProcessor: bosEos(addBos ? bos : undefined, addEos ? eos : undefined, tokens) });
}

/** sentencepiece's whitespace handling: a leading space (optional), spaces spelled U+2581. */
function sentencepieceNormalizer(prefix: boolean): Normalizer {
  return (p: Piece) => {
    const b = new PieceBuilder(p);
    if (prefix && p.text.length > 0) b.push('\u2581', p.offset, p.offset);
    for (let i = 0; i < p.text.length; i++) {
      const s = p.starts === null ? p.offset + i : p.starts[i]!;
      const e = p.ends === null ? s + 1 : p.ends[i]!;
      b.push(p.text[i] === ' ' ? '\u2581' : p.text[i]!, s, e);
    }
    return b.build(p.offset);
  };
}

function bosEos(bos: number | undefined, eos: number | undefined, tokens: string[]): PostProcessor | null {
  if (bos === undefined && eos === undefined) return null;
  return (a, b, addSpecial) => {
    const out = emptyEncoding();
    const put = (id: number | undefined, typeId: number): void => {
      if (id === undefined || !addSpecial) return;
      out.ids.push(id); out.offsets.push([0, 0]); out.specialTokensMask.push(1); out.typeIds.push(typeId); out.tokens.push(tokens[id] ?? '');
    };
    const seq = (e: typeof a, typeId: number): void => {
      e.ids.forEach((id, i) => { out.ids.push(id); out.offsets.push(e.offsets[i]!); out.specialTokensMask.push(e.specialTokensMask[i]!); out.typeIds.push(typeId); out.tokens.push(e.tokens[i]!); });
    };
    put(bos, 0); seq(a, 0); put(eos, 0);
    if (b) { seq(b, 1); put(eos, 1); }
    return out;
  };
}

/**
 * GGUF metadata for a byte-level BPE (GPT-2 style) tokenizer, ready to write into a model file.
 * Throws for other models: their vocabularies need scores or types this export does not invent.
 */
export function ggufMetadataFromTokenizer(tok: Tokenizer): GGUFMetadata {
  const m = tok.model;
  if (!(m instanceof BpeModel) || !m.opts.byteLevel) throw new TypeError('tok: only byte-level BPE (GPT-2 style) tokenizers can be exported to GGUF metadata');
  const n = tok.vocabSize;
  const tokens: string[] = [];
  const types: number[] = [];
  for (let i = 0; i < n; i++) {
    const t = tok.idToToken(i);
    if (t === undefined) throw new RangeError(`tok: id ${i} has no token; GGUF needs a dense vocabulary`);
    tokens.push(t);
    const a = tok.added.byId.get(i);
    types.push(a === undefined ? GGUF_TOKEN_TYPE.normal : a.special ? GGUF_TOKEN_TYPE.control : GGUF_TOKEN_TYPE.userDefined);
  }
  const meta: GGUFMetadata = {
    [`${K}model`]: 'gpt2',
    [`${K}pre`]: 'gpt2',
    [`${K}tokens`]: tokens,
    [`${K}token_type`]: types,
    [`${K}merges`]: m.merges.map(([a, b]) => `${a} ${b}`),
    [`${K}add_bos_token`]: false,
  };
  const eot = tok.tokenToId('<|endoftext|>');
  if (eot !== undefined) { meta[`${K}bos_token_id`] = eot; meta[`${K}eos_token_id`] = eot; }
  return meta;
}
