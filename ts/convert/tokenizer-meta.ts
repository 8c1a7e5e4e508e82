// tokenizer.json (+ tokenizer_config.json) -> llama.cpp's tokenizer.ggml.* metadata and
// tokenizer.chat_template, for `attnode convert`. Not a tokenizer (ts/tokenizer/ reads the result).
// Key names and token types: llama.cpp's gguf-py constants (Keys.Tokenizer, TokenType).

import type { GGUFWriteValue } from '../io/gguf-write.js';
import type { HFConfig } from '../io/config.js';

type Json = Record<string, unknown>;
const TOKEN_TYPE = { normal: 1, unknown: 2, control: 3, userDefined: 4, byte: 6 } as const;
/** tokenizer.ggml.pre per model_type for byte-level BPE vocabularies (llama.cpp's names; a byte-level Phi-3 is Phi-4-mini's o200k). */
const PRE_BY_MODEL_TYPE: Readonly<Record<string, string>> = { gpt2: 'gpt-2', qwen2: 'qwen2', qwen3: 'qwen2', llama: 'llama-bpe', mistral: 'llama-bpe', phi3: 'gpt-4o' };

function obj(v: unknown, what: string): Json {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new TypeError(`${what}: expected an object`);
  return v as Json;
}

/** A special token of tokenizer_config.json: a string or { content }. */
function tokenText(v: unknown): string | undefined {
  if (typeof v === 'string') return v;
  if (typeof v === 'object' && v !== null && typeof (v as Json).content === 'string') return (v as Json).content as string;
  return undefined;
}

/**
 * The tokenizer.ggml.* entries for a Hugging Face tokenizer: 'gpt2' (byte-level BPE with merges
 * and a pre-tokenizer name), or 'llama' (SentencePiece-style BPE with byte fallback, or Unigram,
 * with scores). bos/eos/unk/pad ids from tokenizer_config.json, else config.json.
 */
export function tokenizerMetadata(tokenizer: unknown, tokenizerConfig: Json | undefined, config: HFConfig): Array<[string, GGUFWriteValue]> {
  const tj = obj(tokenizer, 'tokenizer.json');
  const model = obj(tj.model, 'tokenizer.json model');
  const added = Array.isArray(tj.added_tokens) ? (tj.added_tokens as Json[]) : [];
  const tokens: string[] = [];
  const scores: number[] = [];
  const set = (id: number, t: string, score = 0) => {
    if (!Number.isInteger(id) || id < 0) throw new RangeError(`tokenizer.json: token '${t}' has id ${id}, expected a non-negative integer`);
    tokens[id] = t;
    scores[id] = score;
  };
  let ggmlModel: 'gpt2' | 'llama';
  let merges: string[] = [];
  if (model.type === 'BPE') {
    const vocab = obj(model.vocab, 'tokenizer.json model.vocab');
    for (const [t, id] of Object.entries(vocab)) set(Number(id), t);
    merges = (Array.isArray(model.merges) ? model.merges : []).map((m, i) => {
      if (typeof m === 'string') return m;
      if (Array.isArray(m) && m.length === 2) return `${String(m[0])} ${String(m[1])}`;
      throw new TypeError(`tokenizer.json model.merges[${i}]: expected "a b" or [a, b]`);
    });
    ggmlModel = model.byte_fallback === true ? 'llama' : 'gpt2';
    if (ggmlModel === 'llama') {
      // SentencePiece merges the highest-scoring pair first: a merged piece scores minus its rank.
      const index = new Map(tokens.map((t, i) => [t, i]));
      merges.forEach((m, rank) => {
        const id = index.get(m.replace(' ', ''));
        if (id !== undefined && scores[id] === 0) scores[id] = -(rank + 1);
      });
    }
  } else if (model.type === 'Unigram') {
    const vocab = model.vocab;
    if (!Array.isArray(vocab)) throw new TypeError('tokenizer.json model.vocab: expected [piece, score] pairs for Unigram');
    vocab.forEach((e, i) => {
      if (!Array.isArray(e) || typeof e[0] !== 'string' || typeof e[1] !== 'number') throw new TypeError(`tokenizer.json model.vocab[${i}]: expected [piece, score]`);
      set(i, e[0], e[1]);
    });
    ggmlModel = 'llama';
  } else {
    throw new RangeError(`tokenizer.json model.type: '${String(model.type)}' is not converted (expected BPE or Unigram)`);
  }
  const special = new Set<number>();
  const userDefined = new Set<number>();
  for (const a of added) {
    if (typeof a.content !== 'string' || typeof a.id !== 'number') throw new TypeError('tokenizer.json added_tokens: expected { id, content }');
    if (tokens[a.id] === undefined) set(a.id, a.content);
    (a.special === true ? special : userDefined).add(a.id);
  }
  for (let i = 0; i < tokens.length; i++) {
    if (tokens[i] === undefined) throw new RangeError(`tokenizer.json: no token has id ${i} (ids must be 0 .. ${tokens.length - 1})`);
  }
  const index = new Map(tokens.map((t, i) => [t, i]));
  const unkText = typeof model.unk_token === 'string' ? model.unk_token : undefined;
  const unk = unkText === undefined ? (typeof model.unk_id === 'number' ? model.unk_id : undefined) : index.get(unkText);
  const types = tokens.map((t, i) => {
    if (i === unk) return TOKEN_TYPE.unknown;
    if (special.has(i)) return TOKEN_TYPE.control;
    if (userDefined.has(i)) return TOKEN_TYPE.userDefined;
    if (ggmlModel === 'llama' && /^<0x[0-9A-F]{2}>$/.test(t)) return TOKEN_TYPE.byte;
    return TOKEN_TYPE.normal;
  });

  const tc = tokenizerConfig ?? {};
  const idOf = (field: string, cfgField: string): number | undefined => {
    const t = tokenText(tc[field]);
    if (t !== undefined) {
      const id = index.get(t);
      if (id === undefined) throw new RangeError(`tokenizer_config.json ${field}: '${t}' is not in the vocabulary`);
      return id;
    }
    const v = config[cfgField];
    const n = Array.isArray(v) ? v[0] : v;
    return typeof n === 'number' ? n : undefined;
  };
  const out: Array<[string, GGUFWriteValue]> = [
    ['tokenizer.ggml.model', { type: 'string', value: ggmlModel }],
  ];
  if (ggmlModel === 'gpt2') out.push(['tokenizer.ggml.pre', { type: 'string', value: PRE_BY_MODEL_TYPE[String(config.model_type)] ?? 'default' }]);
  out.push(['tokenizer.ggml.tokens', { type: 'array', of: 'string', values: tokens }]);
  if (ggmlModel === 'llama') out.push(['tokenizer.ggml.scores', { type: 'array', of: 'f32', values: scores }]);
  out.push(['tokenizer.ggml.token_type', { type: 'array', of: 'i32', values: types }]);
  if (ggmlModel === 'gpt2') out.push(['tokenizer.ggml.merges', { type: 'array', of: 'string', values: merges }]);
  const ids: Array<[string, number | undefined]> = [
    ['bos_token_id', idOf('bos_token', 'bos_token_id')], ['eos_token_id', idOf('eos_token', 'eos_token_id')],
    ['unknown_token_id', unk], ['padding_token_id', idOf('pad_token', 'pad_token_id')],
  ];
  for (const [k, v] of ids) if (v !== undefined) out.push([`tokenizer.ggml.${k}`, { type: 'u32', value: v }]);
  for (const k of ['add_bos_token', 'add_eos_token'] as const) {
    if (typeof tc[k] === 'boolean') out.push([`tokenizer.ggml.${k}`, { type: 'bool', value: tc[k] as boolean }]);
  }
  const tmpl = tc.chat_template;
  const template = typeof tmpl === 'string' ? tmpl
    : Array.isArray(tmpl) ? (tmpl as Json[]).find((t) => t.name === 'default')?.template : undefined;
  if (typeof template === 'string') out.push(['tokenizer.chat_template', { type: 'string', value: template }]);
  return out;
}
