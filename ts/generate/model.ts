// LanguageModel: a loaded checkpoint with its tokenizer, and the user-facing generate / stream /
// applyChatTemplate / dispose. Not the loop itself (generate.ts) nor the network (gpt2.ts).

import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { Backend } from '../backend/backend.js';
import { BACKEND_NAMES, checkBackendName, createBackend, type BackendName } from '../backend/backends.js';
import { GGUFFile } from '../io/gguf.js';
import { checkModelPath, checkRegularFile } from '../io/files.js';
import { ggufArchitecture, loadModel, type DecoderModel } from '../models/model.js';
import type { EncoderDecoderModel } from '../models/seq2seq.js';
import { readConfig } from '../io/config.js';
import { isSeq2SeqConfig, isSeq2SeqGGUFArchitecture } from '../models/families/seq2seq.js';
import { Seq2SeqLM } from './seq2seq-lm.js';
import type { WeightDType } from '../models/weights.js';
import { WEIGHT_DTYPES } from '../tensor/formats.js';
import type { KVDType } from '../graph/ir.js';
import { packageRoot } from '../native.js';
import { Tokenizer } from '../tokenizer/index.js';
import { tokenizerFromDirectory } from '../tokenizer/files.js';
import { renderChatTemplate, type ChatMessage, type ChatTemplateOptions } from './chat.js';
import { DecoderLM, checkBatchOptions } from './decoder-lm.js';
import { generate, stream, type GenerationResult, type GenerationStream, type TextTokenizer } from './generate.js';
import type { GenerateOptions } from './options.js';
import { checkOptionNames } from '../util/names.js';

/** The backend registry's names (backend/backends.ts), under the name this module always exported. */
export { BACKEND_NAMES as BACKENDS, type BackendName };

export interface LoadOptions {
  /** A registry name: 'native' (default), 'webgpu', 'cuda', 'reference' (plain TypeScript, slow); or a Backend instance. */
  backend?: BackendName | Backend;
  /** Weight dtype of the linear layers; default: as stored in the checkpoint. */
  dtype?: WeightDType;
  /** Intra-op threads of the native backend. */
  threads?: number;
  /** Concurrent generations share one forward pass per step (continuous batching); default true. */
  batching?: boolean;
  /** Most new tokens in one batched pass (longer prompts are split across passes); default 128. */
  maxBatchTokens?: number;
  /** KV caches in 'f32' (default) or 'f16' (half the memory; faster decode on long contexts). */
  kvDtype?: KVDType;
  /**
   * Most positions one request's cache holds: its prompt and the generated tokens fed back (the
   * last sampled token needs none); default: the model's context, at most 2048.
   */
  contextLength?: number;
}

/** Every option LanguageModel.load takes; any other name is a TypeError. */
const LOAD_OPTIONS: readonly (keyof LoadOptions)[] = ['backend', 'dtype', 'threads', 'batching', 'maxBatchTokens', 'kvDtype', 'contextLength'];

/** The model committed with the package: a small GPT-2 trained on Debian's fortune files. */
export function defaultModelPath(): string {
  return join(packageRoot, 'models', 'attnode-fortunes-7m', 'model.gguf');
}

/** eos_token_id from a generation_config.json next to the model file, if there is one. */
export function readGenerationConfigEos(modelPath: string): number[] | undefined {
  const p = join(dirname(modelPath), 'generation_config.json');
  if (!existsSync(p)) return undefined;
  checkRegularFile(p, 'load');
  const cfg = JSON.parse(readFileSync(p, 'utf8')) as { eos_token_id?: unknown };
  const e = cfg.eos_token_id;
  if (e === undefined || e === null) return undefined;
  const list = Array.isArray(e) ? e : [e];
  if (!list.every((v) => Number.isInteger(v) && (v as number) >= 0)) throw new RangeError(`${p}: eos_token_id must be an id or a list of ids`);
  return list as number[];
}

export const DTYPES: readonly WeightDType[] = WEIGHT_DTYPES;
export const KV_DTYPES = ['f32', 'f16'] as const;

/** What a chat template reads besides the messages: the special tokens' text (bos_token, eos_token). */
export interface ChatTokens { bosToken?: string; eosToken?: string }

/** tokenizer_config.json writes a special token as its text or as { content }. */
function tokenText(v: unknown): string | undefined {
  if (typeof v === 'string') return v;
  if (typeof v === 'object' && v !== null && typeof (v as { content?: unknown }).content === 'string') return (v as { content: string }).content;
  return undefined;
}

interface ReadTokenizer {
  tokenizer: Tokenizer; chatTemplate: string | undefined; chatTokens: ChatTokens; eos: number[];
  /** tokenizer_config.json's separate_vocabs (a Marian tokenizer decoding through target_vocab.json) */
  separateVocabs?: boolean;
}

/**
 * The tokenizer and chat template of a checkpoint: GGUF metadata (tokenizer.chat_template, the
 * bos/eos tokens' text from tokenizer.ggml.tokens), or tokenizer.json and tokenizer_config.json
 * (chat_template, bos_token, eos_token) beside it.
 */
function readTokenizer(path: string): ReadTokenizer {
  if (statSync(path).isDirectory()) {
    const tokenizer = tokenizerFromDirectory(path, 'load');
    const cfgPath = join(path, 'tokenizer_config.json');
    if (existsSync(cfgPath)) checkRegularFile(cfgPath, 'load');
    const cfg = existsSync(cfgPath) ? (JSON.parse(readFileSync(cfgPath, 'utf8')) as Record<string, unknown>) : {};
    const bos = tokenText(cfg.bos_token);
    const eosText = tokenText(cfg.eos_token);
    const chatTokens: ChatTokens = { ...(bos !== undefined ? { bosToken: bos } : {}), ...(eosText !== undefined ? { eosToken: eosText } : {}) };
    return { tokenizer, chatTemplate: typeof cfg.chat_template === 'string' ? cfg.chat_template : undefined, chatTokens, eos: [], separateVocabs: cfg.separate_vocabs === true };
  }
  const g = new GGUFFile(path);
  try {
    const meta: Record<string, unknown> = {};
    for (const [k, v] of g.metadata) if (k.startsWith('tokenizer.')) meta[k] = v;
    const tmpl = g.get('tokenizer.chat_template');
    const eos = g.get('tokenizer.ggml.eos_token_id');
    const tokens = g.get('tokenizer.ggml.tokens');
    const text = (id: unknown) => (typeof id === 'number' && Array.isArray(tokens) && typeof tokens[id] === 'string' ? (tokens[id] as string) : undefined);
    const bosText = text(g.get('tokenizer.ggml.bos_token_id'));
    const eosText = text(eos);
    const chatTokens: ChatTokens = { ...(bosText !== undefined ? { bosToken: bosText } : {}), ...(eosText !== undefined ? { eosToken: eosText } : {}) };
    return { tokenizer: Tokenizer.fromGGUF(meta), chatTemplate: typeof tmpl === 'string' ? tmpl : undefined, chatTokens, eos: typeof eos === 'number' ? [eos] : [] };
  } finally {
    g.dispose();
  }
}

/** Ids whose tokenizer.ggml.token_type is UNUSED (5) in a GGUF file. */
function unusedTokens(path: string): number[] {
  const g = new GGUFFile(path);
  try {
    const types = g.get('tokenizer.ggml.token_type');
    const out: number[] = [];
    const list = ArrayBuffer.isView(types) ? Array.from(types as unknown as ArrayLike<number>) : Array.isArray(types) ? types : [];
    list.forEach((t, id) => { if (t === 5) out.push(id); });
    return out;
  } finally {
    g.dispose();
  }
}

/**
 * A Marian tokenizer decodes through target_vocab.json only with separate_vocabs, and the model
 * scores the target vocabulary only without share_encoder_decoder_embeddings: the two must agree,
 * or ids would decode as other tokens.
 */
function checkMarianVocabularies(model: EncoderDecoderModel, separateVocabs: boolean, path: string): void {
  const separate = model.config.decoderVocabSize !== undefined;
  if (separateVocabs && !separate)
    throw new RangeError(`load: ${path}: tokenizer_config.json says separate_vocabs, but config.json shares one vocabulary (share_encoder_decoder_embeddings is not false)`);
  if (!separateVocabs && separate && model.decoderVocabSize !== model.config.vocabSize)
    throw new RangeError(`load: ${path}: config.json has a decoder vocabulary of its own (decoder_vocab_size ${model.decoderVocabSize}, vocab_size ${model.config.vocabSize}), but tokenizer_config.json does not say separate_vocabs: true (decoding needs target_vocab.json)`);
}

export class LanguageModel {
  /** 'decoder' (the prompt is continued) or 'encoder-decoder' (the prompt is the encoder's input; T5). */
  get kind(): 'decoder' | 'encoder-decoder' {
    return this.driver instanceof Seq2SeqLM ? 'encoder-decoder' : 'decoder';
  }

  /** The decoder-only model the loop drives; an encoder-decoder LanguageModel has none (see `seq2seq`). */
  get model(): DecoderLM {
    if (this.driver instanceof Seq2SeqLM) throw new TypeError(`model: ${this.path} is an encoder-decoder; its model is 'seq2seq' (a Seq2SeqLM)`);
    return this.driver;
  }

  /** The encoder-decoder the loop drives (T5: the prompt is the encoder's input); undefined for a decoder-only model. */
  get seq2seq(): Seq2SeqLM | undefined {
    return this.driver instanceof Seq2SeqLM ? this.driver : undefined;
  }

  private constructor(
    readonly path: string,
    /** A decoder-only model (DecoderLM) or an encoder-decoder (Seq2SeqLM: the prompt is the encoder's input). */
    private readonly driver: DecoderLM | Seq2SeqLM,
    readonly tokenizer: Tokenizer,
    readonly backend: Backend,
    private readonly ownsBackend: boolean,
    readonly chatTemplate: string | undefined,
    /** The special tokens' text the template reads (bos_token, eos_token), as the checkpoint names them. */
    readonly chatTokens: ChatTokens = {},
    /** Options generate() and stream() take from the checkpoint where the caller passes none (generation_config.json of an encoder-decoder). */
    readonly defaults: GenerateOptions = {},
  ) {}

  /**
   * How generated ids become text: an encoder-decoder's output leaves out special tokens (BART's
   * forced <s>, mBART's language code, a </s> fed back), as HF's text2text pipelines decode it
   * (skip_special_tokens=True); a decoder's keeps them. The ids keep every token either way.
   */
  private get outputText(): TextTokenizer {
    if (!(this.driver instanceof Seq2SeqLM)) return this.tokenizer;
    const t = this.tokenizer;
    return { encode: (text, options) => t.encode(text, options), decode: (ids) => t.decode(ids, { skipSpecialTokens: true }) };
  }

  /** The caller's options over the checkpoint's defaults. */
  private withDefaults(options: GenerateOptions): GenerateOptions {
    if (typeof options !== 'object' || options === null) return options;
    const d: GenerateOptions = { ...this.defaults };
    if (options.maxNewTokens !== undefined) delete d.maxTokens;
    // A caller who samples (top-k, top-p, ...) gets sampling, not the checkpoint's beam settings.
    if ([options.topK, options.topP, options.minP, options.typicalP].some((x) => x !== undefined))
      for (const k of ['numBeams', 'numReturnSequences', 'lengthPenalty', 'earlyStopping'] as const) delete d[k];
    const given: GenerateOptions = Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined));
    // The caller's biases join the checkpoint's (theirs win on the same id).
    if (d.logitBias !== undefined && given.logitBias !== undefined && typeof given.logitBias === 'object' && given.logitBias !== null) {
      const user = given.logitBias instanceof Map ? [...given.logitBias] : Object.entries(given.logitBias).map(([k, v]) => [Number(k), v] as [number, number]);
      given.logitBias = new Map([...(d.logitBias as ReadonlyMap<number, number>), ...user]);
    }
    const merged: GenerateOptions = { ...d, ...given };
    // The checkpoint's forced BOS / EOS (BART's forced_bos/eos_token_id) at this request's length;
    // without a maximum, only the first token is forced.
    if (this.driver instanceof Seq2SeqLM && given.forcedTokens === undefined) {
      const forced = this.driver.model.forcedTokens(merged.maxTokens ?? merged.maxNewTokens ?? 0);
      if (forced !== undefined && forced.size > 0) merged.forcedTokens = forced;
    }
    return merged;
  }

  /** Loads a checkpoint (GGUF file or Hugging Face directory; default: the committed default model). */
  static async load(path: string = defaultModelPath(), options: LoadOptions = {}): Promise<LanguageModel> {
    if (typeof path !== 'string') throw new TypeError("load: 'path' must be a string");
    if (typeof options !== 'object' || options === null) throw new TypeError('load: options must be an object');
    checkOptionNames(options, LOAD_OPTIONS, 'load', { maxTokens: "is a generation option (generate(prompt, { maxTokens })); the most positions a request holds is 'contextLength'" });
    if (options.dtype !== undefined && !DTYPES.includes(options.dtype))
      throw new RangeError(`load: 'dtype' must be one of ${DTYPES.join(', ')}, got '${String(options.dtype)}'`);
    if (options.kvDtype !== undefined && !KV_DTYPES.includes(options.kvDtype))
      throw new RangeError(`load: 'kvDtype' must be one of ${KV_DTYPES.join(', ')}, got '${String(options.kvDtype)}'`);
    if (options.threads !== undefined && !(Number.isInteger(options.threads) && options.threads >= 1))
      throw new RangeError(`load: 'threads' must be an integer >= 1, got ${String(options.threads)}`);
    checkBatchOptions(options, 'load');
    checkModelPath(path, 'load');
    const b = options.backend ?? 'native';
    const owns = typeof b !== 'object' || b === null;
    const backend: Backend = owns ? await createBackend(checkBackendName(b, 'load'), options.threads === undefined ? {} : { threads: options.threads }) : b;
    let model: DecoderModel;
    let read: ReadTokenizer;
    try {
      read = readTokenizer(path);
      const gguf = !statSync(path).isDirectory();
      if (gguf ? isSeq2SeqGGUFArchitecture(ggufArchitecture(path)) : isSeq2SeqConfig(readConfig(path).config)) {
        // An encoder-decoder (T5): the prompt text is the encoder's input.
        const s2s: EncoderDecoderModel = await loadModel(path, {
          kind: 'encoder-decoder',
          backend,
          ...(options.dtype ? { dtype: options.dtype } : {}),
          ...(options.kvDtype ? { kvDtype: options.kvDtype } : {}),
          ...(options.contextLength !== undefined ? { contextLength: options.contextLength } : {}),
        });
        try {
          checkMarianVocabularies(s2s, read.separateVocabs === true, path);
        } catch (e) {
          s2s.dispose();
          throw e;
        }
        const lm = new Seq2SeqLM(s2s);
        // T5 pads its vocabulary past the tokenizer's (32128 rows for 32100 pieces): ids without text are never chosen.
        const textless = new Map<number, number>();
        for (let id = read.tokenizer.vocabSize; id < s2s.decoderVocabSize; id++) textless.set(id, -Infinity);
        // A GGUF vocabulary spells those rows as UNUSED tokens ('[PAD304]' ...), as llama.cpp's converter pads them.
        for (const id of gguf ? unusedTokens(path) : []) textless.set(id, -Infinity);
        const defaults: GenerateOptions = { ...s2s.generationDefaults(), ...(textless.size > 0 ? { logitBias: textless } : {}) };
        return new LanguageModel(path, lm, read.tokenizer, backend, owns, read.chatTemplate, read.chatTokens, defaults);
      }
      model = await loadModel(path, {
        kind: 'decoder',
        backend,
        ...(options.dtype ? { dtype: options.dtype } : {}),
        ...(options.kvDtype ? { kvDtype: options.kvDtype } : {}),
        ...(options.contextLength !== undefined ? { contextLength: options.contextLength } : {}),
      });
    } catch (e) {
      if (owns) backend.dispose();
      throw e;
    }
    const { tokenizer, chatTemplate, chatTokens, eos } = read;
    const fromConfig = model.generation?.eos_token_id;
    const eosIds = readGenerationConfigEos(path) ?? (fromConfig === undefined ? eos : Array.isArray(fromConfig) ? fromConfig : [fromConfig]);
    const lm = new DecoderLM(model, eosIds, { batching: options.batching, maxBatchTokens: options.maxBatchTokens });
    return new LanguageModel(path, lm, tokenizer, backend, owns, chatTemplate, chatTokens);
  }
  generate(prompt: string | readonly number[], options: GenerateOptions = {}): Promise<GenerationResult> {
    try {
      this.driver.model.checkFiles();
    } catch (e) {
      return Promise.reject(e);
    }
    return generate(this.driver, this.outputText, prompt, this.withDefaults(options));
  }

  /** Throws when the generation can't start; the stream's own errors arrive as it is read. */
  stream(prompt: string | readonly number[], options: GenerateOptions = {}): GenerationStream {
    this.driver.model.checkFiles();
    return stream(this.driver, this.outputText, prompt, this.withDefaults(options));
  }

  /** Renders chat messages with the checkpoint's template (tokenizer.chat_template). */
  applyChatTemplate(messages: readonly ChatMessage[], options: ChatTemplateOptions = {}): string {
    if (this.chatTemplate === undefined) throw new TypeError(`applyChatTemplate: ${this.path} has no chat template (tokenizer.chat_template); it is not a chat model`);
    // GPT-2-style checkpoints name no special tokens in their config: '<|endoftext|>' is their eos.
    return renderChatTemplate(this.chatTemplate, messages, { eosToken: '<|endoftext|>', ...this.chatTokens, ...options });
  }

  /** Frees native weights now; generation afterwards throws. */
  dispose(): void {
    this.driver.dispose();
    if (this.ownsBackend) this.backend.dispose();
  }
  async [Symbol.asyncDispose](): Promise<void> {
    this.dispose();
  }
}
