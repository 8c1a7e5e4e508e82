// `attnode convert` for T5 (model_type t5 / mt5): llama.cpp's 't5' architecture, as its
// convert_hf_to_gguf.py (T5Model) names tensors and keys, and its 't5' (UGM) vocabulary from
// tokenizer.json (Unigram + Precompiled) or spiece.model. Not the loader (models/families/t5-gguf.ts).

import type { HFConfig } from '../io/config.js';
import type { GGUFWriteValue } from '../io/gguf-write.js';
import { t5 } from '../models/families/t5.js';
import { T5_MAX_DISTANCE_KEY } from '../models/families/t5-gguf.js';
import { parseSentencePieceModel, SPM_MODEL_TYPE, SPM_PIECE_TYPE, type SpmPiece } from '../tokenizer/spm-proto.js';

type KV = Array<[string, GGUFWriteValue]>;
type Json = Record<string, unknown>;
const u32 = (value: number): GGUFWriteValue => ({ type: 'u32', value });
const f32 = (value: number): GGUFWriteValue => ({ type: 'f32', value });
const bool = (value: boolean): GGUFWriteValue => ({ type: 'bool', value });

/** A tensor of the file: its llama.cpp name, the HF tensor it comes from, and a factor (the tied head's d_model ** -0.5). */
export interface T5Mapping { gguf: string; hf: string; scale?: number }

/**
 * The config as llama.cpp can run it: its two FFN builds are ReLU (not gated) and gated GELU
 * in tanh form; any other feed_forward_proj is refused, since llama.cpp would run it as one of those.
 */
export function t5ConvertConfig(cfg: HFConfig) {
  const c = t5.configFromHF(cfg);
  if (!(c.gated ? c.activation === 'gelu_tanh' : c.activation === 'relu'))
    throw new RangeError(`config.json feed_forward_proj: ${JSON.stringify(cfg.feed_forward_proj)} has no GGUF form (llama.cpp's T5 runs 'relu' and 'gated-gelu' only)`);
  return c;
}

export function t5Metadata(cfg: HFConfig): KV {
  const c = t5ConvertConfig(cfg);
  const nPositions = cfg.n_positions;
  return [
    ['t5.context_length', u32(typeof nPositions === 'number' && Number.isInteger(nPositions) && nPositions > 0 ? nPositions : 512)],
    ['t5.embedding_length', u32(c.hidden)],
    ['t5.feed_forward_length', u32(c.ffn)],
    ['t5.block_count', u32(c.encoderLayers)],
    ['t5.decoder_block_count', u32(c.decoderLayers)],
    ['t5.attention.head_count', u32(c.heads)],
    ['t5.attention.key_length', u32(c.headDim)],
    ['t5.attention.value_length', u32(c.headDim)],
    ['t5.attention.layer_norm_epsilon', f32(c.normEps)],
    ['t5.attention.layer_norm_rms_epsilon', f32(c.normEps)],
    ['t5.attention.relative_buckets_count', u32(c.relativeBuckets!)],
    // attnode's own key (llama.cpp ignores it and uses 128): see T5_MAX_DISTANCE_KEY.
    [`t5.${T5_MAX_DISTANCE_KEY}`, u32(c.relativeMaxDistance!)],
    ['t5.decoder_start_token_id', u32(c.decoderStartTokenId)],
  ];
}

/**
 * HF names -> llama.cpp names. The tied head of T5 v1.0 is written as output.weight with HF's
 * d_model ** -0.5 folded in: llama.cpp's T5 multiplies by output (or token_embd) without it.
 */
export function t5Tensors(cfg: HFConfig, has: (name: string) => boolean): T5Mapping[] {
  const c = t5ConvertConfig(cfg);
  const table = ['shared.weight', 'encoder.embed_tokens.weight', 'decoder.embed_tokens.weight'].find(has) ?? 'shared.weight';
  const out: T5Mapping[] = [{ gguf: 'token_embd.weight', hf: table }];
  const attention = (gguf: string, hf: string) => {
    for (const x of ['q', 'k', 'v', 'o']) out.push({ gguf: `${gguf}_${x}.weight`, hf: `${hf}.${x}.weight` });
  };
  const ffn = (b: string, hf: string) => {
    if (c.gated) out.push({ gguf: `${b}ffn_gate.weight`, hf: `${hf}.DenseReluDense.wi_0.weight` }, { gguf: `${b}ffn_up.weight`, hf: `${hf}.DenseReluDense.wi_1.weight` });
    else out.push({ gguf: `${b}ffn_up.weight`, hf: `${hf}.DenseReluDense.wi.weight` });
    out.push({ gguf: `${b}ffn_down.weight`, hf: `${hf}.DenseReluDense.wo.weight` }, { gguf: `${b}ffn_norm.weight`, hf: `${hf}.layer_norm.weight` });
  };
  for (const [side, stack, n] of [['enc', 'encoder', c.encoderLayers], ['dec', 'decoder', c.decoderLayers]] as const) {
    for (let i = 0; i < n; i++) {
      const b = `${side}.blk.${i}.`;
      const hf = `${stack}.block.${i}.layer`;
      out.push({ gguf: `${b}attn_norm.weight`, hf: `${hf}.0.layer_norm.weight` });
      attention(`${b}attn`, `${hf}.0.SelfAttention`);
      if (i === 0) out.push({ gguf: `${b}attn_rel_b.weight`, hf: `${hf}.0.SelfAttention.relative_attention_bias.weight` });
      if (side === 'dec') {
        out.push({ gguf: `${b}cross_attn_norm.weight`, hf: `${hf}.1.layer_norm.weight` });
        attention(`${b}cross_attn`, `${hf}.1.EncDecAttention`);
      }
      ffn(b, `${hf}.${side === 'enc' ? 1 : 2}`);
    }
    out.push({ gguf: `${side}.output_norm.weight`, hf: `${stack}.final_layer_norm.weight` });
  }
  out.push(c.tiedEmbeddings ? { gguf: 'output.weight', hf: table, scale: c.hidden ** -0.5 } : { gguf: 'output.weight', hf: 'lm_head.weight' });
  return out;
}

/** T5's text-less rows past the tokenizer's vocabulary, as llama.cpp's converter pads them. */
function pad(pieces: SpmPiece[], vocabSize: number, what: string): SpmPiece[] {
  if (pieces.length > vocabSize) throw new RangeError(`${what}: ${pieces.length} tokens, more than the model's vocab_size ${vocabSize}`);
  const out = [...pieces];
  for (let i = pieces.length; i < vocabSize; i++) out.push({ piece: `[PAD${i}]`, score: -10000, type: SPM_PIECE_TYPE.unused });
  return out;
}

function vocabKeys(pieces: SpmPiece[], norm: { charsmap: Uint8Array; addDummyPrefix: boolean; removeExtraWhitespaces: boolean }, cfg: HFConfig): KV {
  const unk = pieces.findIndex((p) => p.type === SPM_PIECE_TYPE.unknown);
  const eosText = pieces.findIndex((p) => p.piece === '</s>');
  const id = (v: unknown, fallback: number) => (typeof v === 'number' && Number.isInteger(v) && v >= 0 ? v : fallback);
  const kv: KV = [
    ['tokenizer.ggml.model', { type: 'string', value: 't5' }],
    ['tokenizer.ggml.pre', { type: 'string', value: 'default' }],
    ['tokenizer.ggml.tokens', { type: 'array', of: 'string', values: pieces.map((p) => p.piece) }],
    ['tokenizer.ggml.scores', { type: 'array', of: 'f32', values: pieces.map((p) => p.score) }],
    ['tokenizer.ggml.token_type', { type: 'array', of: 'i32', values: pieces.map((p) => p.type) }],
    ['tokenizer.ggml.add_space_prefix', bool(norm.addDummyPrefix)],
    ['tokenizer.ggml.remove_extra_whitespaces', bool(norm.removeExtraWhitespaces)],
  ];
  if (norm.charsmap.length > 0) kv.push(['tokenizer.ggml.precompiled_charsmap', { type: 'array', of: 'u8', values: norm.charsmap }]);
  const eos = Array.isArray(cfg.eos_token_id) ? cfg.eos_token_id[0] : cfg.eos_token_id;
  kv.push(['tokenizer.ggml.eos_token_id', u32(id(eos, eosText >= 0 ? eosText : 1))]);
  if (unk >= 0) kv.push(['tokenizer.ggml.unknown_token_id', u32(unk)]);
  kv.push(['tokenizer.ggml.padding_token_id', u32(id(cfg.pad_token_id, 0))], ['tokenizer.ggml.add_bos_token', bool(false)], ['tokenizer.ggml.add_eos_token', bool(true)]);
  return kv;
}

function normalizers(n: unknown): Json[] {
  if (n === null || n === undefined) return [];
  const o = n as Json;
  return o.type === 'Sequence' && Array.isArray(o.normalizers) ? (o.normalizers as unknown[]).flatMap(normalizers) : [o];
}

/**
 * The 't5' vocabulary of a tokenizer.json with a Unigram model: pieces and scores, types from
 * the unknown id and the added tokens, the Precompiled charsmap, Metaspace's prefix, and
 * Replace(' {2,}', ' ') (or WhitespaceSplit) as remove_extra_whitespaces. A normalizer or
 * pre-tokenizer that sentencepiece's rules cannot express is refused by name.
 */
export function t5VocabFromTokenizerJSON(tj: Json, cfg: HFConfig, vocabSize: number): KV {
  const model = tj.model as Json | undefined;
  if (model?.type !== 'Unigram' || !Array.isArray(model.vocab)) throw new RangeError(`tokenizer.json model.type: '${String(model?.type)}' has no 't5' GGUF form (expected Unigram)`);
  const added = new Map<number, boolean>();
  for (const a of (Array.isArray(tj.added_tokens) ? tj.added_tokens : []) as Json[]) if (typeof a.id === 'number') added.set(a.id, a.special === true);
  const unk = typeof model.unk_id === 'number' ? model.unk_id : -1;
  const bytes = model.byte_fallback === true;
  const pieces: SpmPiece[] = (model.vocab as unknown[]).map((e, i) => {
    if (!Array.isArray(e) || typeof e[0] !== 'string' || typeof e[1] !== 'number') throw new TypeError(`tokenizer.json model.vocab[${i}]: expected [piece, score]`);
    const type = i === unk ? SPM_PIECE_TYPE.unknown : added.has(i) ? (added.get(i) ? SPM_PIECE_TYPE.control : SPM_PIECE_TYPE.userDefined)
      : bytes && /^<0x[0-9A-F]{2}>$/.test(e[0]) ? SPM_PIECE_TYPE.byte : SPM_PIECE_TYPE.normal;
    return { piece: e[0], score: e[1], type };
  });
  for (const id of added.keys()) if (id >= pieces.length) throw new RangeError(`tokenizer.json added_tokens: id ${id} is past the Unigram vocabulary (${pieces.length}); it has no score`);
  let charsmap = new Uint8Array(0);
  let removeExtra = false;
  for (const n of normalizers(tj.normalizer)) {
    const pattern = (n.pattern as Json | undefined)?.Regex ?? (n.pattern as Json | undefined)?.String;
    if (n.type === 'Precompiled' && typeof n.precompiled_charsmap === 'string') charsmap = Uint8Array.from(Buffer.from(n.precompiled_charsmap, 'base64'));
    else if (n.type === 'Replace' && pattern === ' {2,}' && n.content === ' ') removeExtra = true;
    else throw new RangeError(`tokenizer.json normalizer ${JSON.stringify(n).slice(0, 120)} has no 't5' GGUF form (Precompiled and Replace(' {2,}', ' ') do)`);
  }
  let prefix: boolean | undefined;
  const pre = tj.pre_tokenizer as Json | null | undefined;
  for (const p of (pre?.type === 'Sequence' && Array.isArray(pre.pretokenizers) ? pre.pretokenizers : pre ? [pre] : []) as Json[]) {
    if (p.type === 'WhitespaceSplit') removeExtra = true;
    else if (p.type === 'Metaspace' && (p.replacement ?? '\u2581') === '\u2581') prefix = p.prepend_scheme !== undefined ? p.prepend_scheme !== 'never' : p.add_prefix_space !== false;
    else throw new RangeError(`tokenizer.json pre_tokenizer ${JSON.stringify(p).slice(0, 120)} has no 't5' GGUF form (Metaspace with '\u2581' and WhitespaceSplit do)`);
  }
  if (prefix === undefined) throw new RangeError("tokenizer.json pre_tokenizer: a 't5' vocabulary needs Metaspace (whitespace as '\u2581')");
  return vocabKeys(pad(pieces, vocabSize, 'tokenizer.json'), { charsmap, addDummyPrefix: prefix, removeExtraWhitespaces: removeExtra }, cfg);
}

/**
 * The 't5' vocabulary of a spiece.model, as HF's T5Tokenizer extends it: the pieces, then
 * `extraIds` sentinels <extra_id_N> (N counting down, as control tokens; tokenizer_config.json's
 * extra_ids, 100 by default).
 */
export function t5VocabFromSentencePiece(bytes: Uint8Array, cfg: HFConfig, vocabSize: number, extraIds: number, path = 'spiece.model'): KV {
  const m = parseSentencePieceModel(bytes, path);
  if (m.trainer.modelType !== SPM_MODEL_TYPE.unigram) throw new RangeError(`${path}: only Unigram models have a 't5' GGUF form`);
  if (!m.normalizer.escapeWhitespaces || m.trainer.treatWhitespaceAsSuffix)
    throw new RangeError(`${path}: escape_whitespaces off or treat_whitespace_as_suffix on have no 't5' GGUF form (llama.cpp always escapes, as a prefix)`);
  if (m.denormalizer !== null) throw new RangeError(`${path}: a denormalizer has no 't5' GGUF form`);
  const pieces: SpmPiece[] = [...m.pieces];
  for (let i = extraIds - 1; i >= 0; i--) pieces.push({ piece: `<extra_id_${i}>`, score: 0, type: SPM_PIECE_TYPE.control });
  return vocabKeys(pad(pieces, vocabSize, path), m.normalizer, cfg);
}
