// Encoder: an encoder checkpoint with its tokenizer, and the text-level tasks on it: embed,
// rerank, classify, tokenClassify, fillMask, forwardText. Not the graph or the forward pass
// (models/encoder.ts), and not the post-processing of NER and fill-mask (token-classify.ts, fill-mask.ts).

import { existsSync, statSync } from 'node:fs';
import { GGUFFile } from '../io/gguf.js';
import type { EncoderPooling } from '../models/families/encoder-config.js';
import { tokenizerFromGGUF } from '../tokenizer/gguf.js';
import { loadEncoder, type EncoderModel, type EncoderOutput, type EncoderTask, type LoadEncoderOptions } from '../models/encoder.js';
import { cleanupTokenization } from '../tokenizer/decoders.js';
import type { EncodeResult, Tokenizer } from '../tokenizer/index.js';
import { checkOptionNames } from '../util/names.js';
import { POOLING_MODES, readEncoderTokenizer, readSentenceRecipe, readTokenizerConfig, specialToken, type PoolingMode, type SentenceRecipe } from './files.js';
import { fillMaskResults, targetIds, type FillMaskOptions, type FillMaskResult } from './fill-mask.js';
import { normalizeL2, poolTokens, sigmoid, softmax } from './math.js';
import { AGGREGATIONS, tokenEntities, type TokenClassifyOptions, type TokenEntity } from './token-classify.js';

export type EncoderLoadOptions = LoadEncoderOptions;

export interface EmbedOptions {
  /** Default: the checkpoint's sentence-transformers Pooling config, else 'mean'. */
  pooling?: PoolingMode;
  /** L2-normalize each vector; default: true when modules.json has a Normalize module, else false. */
  normalize?: boolean;
}

export interface RerankOptions {
  /** Most results, best first; default: all documents. */
  topN?: number;
  /** Put each document's text in its result; default false. */
  returnDocuments?: boolean;
}

export interface RerankResult {
  /** Position of the document in the list given. */
  index: number;
  /** Raw logit of a one-label cross-encoder; softmax probability of label 1 for two or more labels. */
  score: number;
  document?: string;
}

export type ClassifyFunction = 'softmax' | 'sigmoid' | 'none';

export interface ClassifyOptions {
  /** Labels per text, best first; null: all of them. Default 1. */
  topK?: number | null;
  /** Default: 'sigmoid' for problem_type multi_label_classification or one label, else 'softmax'. */
  functionToApply?: ClassifyFunction;
}

export interface LabelScore {
  label: string;
  score: number;
}

export interface ForwardTextOptions {
  /** Second texts (sentence B, type id 1), one per text. */
  pairs?: readonly string[];
  /** Cut texts longer than the model takes (longest_first) instead of throwing; default false. */
  truncate?: boolean;
  /** Any other option goes to EncoderModel.forward as it is. */
  [forwardOption: string]: unknown;
}

/** forwardText's result per text: the model's outputs and the encoding they came from. */
export interface TextOutput extends EncoderOutput {
  encoding: EncodeResult;
}

const LOAD_OPTIONS: readonly (keyof LoadEncoderOptions)[] = ['backend', 'dtype', 'threads', 'maxBatch', 'maxTokens'];
const TASK_CLASS: Readonly<Record<EncoderTask, string>> = {
  none: 'a bare encoder (no head)', maskedLM: 'a masked-LM head', sequenceClassification: 'a sequence classification head', tokenClassification: 'a token classification head',
};

function options<T extends object>(o: T | undefined, known: readonly string[], where: string): T {
  if (o === undefined) return {} as T;
  if (typeof o !== 'object' || o === null || Array.isArray(o)) throw new TypeError(`${where}: options must be an object`);
  checkOptionNames(o, known, where);
  return o;
}

function texts(v: unknown, where: string, name = 'texts'): readonly string[] {
  if (!Array.isArray(v)) throw new TypeError(`${where}: '${name}' must be an array of strings, got ${v === null ? 'null' : typeof v}`);
  if (v.length === 0) throw new RangeError(`${where}: '${name}' is empty; give at least one text`);
  v.forEach((t, i) => {
    if (typeof t !== 'string') throw new TypeError(`${where}: '${name}[${i}]' must be a string, got ${t === null ? 'null' : typeof t}`);
  });
  return v as readonly string[];
}

function text(v: unknown, where: string, name: string): string {
  if (typeof v !== 'string') throw new TypeError(`${where}: '${name}' must be a string, got ${v === null ? 'null' : typeof v}`);
  return v;
}

function positiveInt(v: unknown, where: string, name: string): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) throw new RangeError(`${where}: '${name}' must be a positive integer, got ${String(v)}`);
  return v;
}

/** A GGUF file's own vocabulary (tokenizer.ggml.*: WordPiece for 'bert'). */
function ggufTokenizer(path: string): Tokenizer {
  const g = new GGUFFile(path);
  try {
    return tokenizerFromGGUF(Object.fromEntries(g.metadata));
  } finally {
    g.dispose();
  }
}

/**
 * embed()'s defaults for a GGUF file, from its pooling_type (llama.cpp's LLAMA_POOLING_TYPE_*).
 * GGUF records no Normalize module, so vectors are not normalized unless asked ({ normalize: true }).
 */
function ggufSentenceRecipe(pooling: EncoderPooling | undefined): SentenceRecipe {
  if (pooling === undefined || pooling === 'mean') return { pooling: ['mean'], normalize: false };
  if (pooling === 'cls') return { pooling: ['cls'], normalize: false };
  return { pooling: ['mean'], normalize: false, unsupported: `the file's pooling_type '${pooling}' is not one embed() implements (mean, cls)` };
}

export class Encoder {
  /** Most tokens one text (or pair) may have: max_position_embeddings, and what one pass holds. */
  readonly maxLength: number;
  private queue: Promise<unknown> = Promise.resolve();

  private constructor(
    readonly dir: string,
    readonly model: EncoderModel,
    readonly tokenizer: Tokenizer,
    /** The embedding recipe read from modules.json and 1_Pooling/config.json. */
    readonly sentence: SentenceRecipe,
    private readonly tokenizerConfig: Record<string, unknown>,
  ) {
    this.maxLength = Math.min(model.config.maxSequence, model.maxTokens);
  }

  /**
   * Loads a checkpoint directory (config.json, model.safetensors, tokenizer.json or vocab.txt,
   * sentence-transformers files when present) or a GGUF file as llama.cpp writes embedding models
   * (its tokenizer.ggml.* vocabulary, and its pooling_type as the embed() default).
   */
  static async load(dir: string, opts: EncoderLoadOptions = {}): Promise<Encoder> {
    const where = 'Encoder.load';
    if (typeof dir !== 'string') throw new TypeError(`${where}: 'dir' must be a string`);
    options(opts, LOAD_OPTIONS, where);
    const gguf = existsSync(dir) && statSync(dir).isFile() && dir.endsWith('.gguf');
    if (!gguf && (!existsSync(dir) || !statSync(dir).isDirectory())) throw new RangeError(`${where}: '${dir}' is neither a checkpoint directory nor a .gguf file`);
    const tokenizer = gguf ? ggufTokenizer(dir) : readEncoderTokenizer(dir, where);
    const tokenizerConfig = gguf ? {} : readTokenizerConfig(dir);
    const model = await loadEncoder(dir, opts, where);
    let sentence: SentenceRecipe;
    try {
      sentence = gguf ? ggufSentenceRecipe(model.config.pooling) : readSentenceRecipe(dir);
    } catch (e) {
      model.dispose();
      throw e;
    }
    if (tokenizer.vocabSize > model.config.vocabSize) {
      model.dispose();
      throw new RangeError(`${where}: the tokenizer has ${tokenizer.vocabSize} ids, more than the model's vocab_size ${model.config.vocabSize}`);
    }
    return new Encoder(dir, model, tokenizer, sentence, tokenizerConfig);
  }

  /** One vector per text (pooled, then normalized as the checkpoint or the options say); texts longer than the model takes are truncated. */
  async embed(input: readonly string[], opts?: EmbedOptions): Promise<Float32Array[]> {
    const where = 'embed';
    const o = options(opts, ['pooling', 'normalize'], where);
    const list = texts(input, where);
    if (o.pooling !== undefined && !POOLING_MODES.includes(o.pooling)) throw new RangeError(`${where}: 'pooling' must be one of ${POOLING_MODES.map((m) => `'${m}'`).join(', ')}, got ${JSON.stringify(o.pooling)}`);
    if (o.normalize !== undefined && typeof o.normalize !== 'boolean') throw new TypeError(`${where}: 'normalize' must be a boolean, got ${JSON.stringify(o.normalize)}`);
    if (o.pooling === undefined && this.sentence.unsupported !== undefined) throw new RangeError(`${where}: ${this.sentence.unsupported}; pass 'pooling' to choose one yourself`);
    const modes = o.pooling === undefined ? this.sentence.pooling : [o.pooling];
    const normalize = o.normalize ?? this.sentence.normalize;
    const max = Math.min(this.maxLength, this.sentence.maxSeqLength ?? Infinity);
    const encs = list.map((t) => this.encode(t, undefined, max, where, true));
    const outs = await this.run(encs, {});
    const H = this.model.config.hidden;
    return outs.map((out, i) => {
      const v = poolTokens(out.lastHiddenState, encs[i]!.ids.length, H, modes);
      return normalize ? normalizeL2(v) : v;
    });
  }

  /** Scores (query, document) pairs with a cross-encoder, best first. Long pairs are truncated longest_first. */
  async rerank(query: string, documents: readonly string[], opts?: RerankOptions): Promise<RerankResult[]> {
    const where = 'rerank';
    const o = options(opts, ['topN', 'returnDocuments'], where);
    text(query, where, 'query');
    const docs = texts(documents, where, 'documents');
    const topN = o.topN === undefined ? docs.length : positiveInt(o.topN, where, 'topN');
    if (o.returnDocuments !== undefined && typeof o.returnDocuments !== 'boolean') throw new TypeError(`${where}: 'returnDocuments' must be a boolean`);
    this.needTask('sequenceClassification', where, 'a cross-encoder (…ForSequenceClassification)');
    const encs = docs.map((d) => this.encode(query, d, this.maxLength, where, true));
    const outs = await this.run(encs, {});
    const results: RerankResult[] = outs.map((out, index) => {
      const l = out.logits!;
      const r: RerankResult = { index, score: l.length === 1 ? l[0]! : softmax(l)[1]! };
      if (o.returnDocuments) r.document = docs[index]!;
      return r;
    });
    // Stable: equal scores keep the documents' order.
    results.sort((a, b) => b.score - a.score || a.index - b.index);
    return results.slice(0, topN);
  }

  /** Labels with scores per text, as Hugging Face's text-classification pipeline. */
  async classify(input: readonly string[], opts?: ClassifyOptions): Promise<LabelScore[][]> {
    const where = 'classify';
    const o = options(opts, ['topK', 'functionToApply'], where);
    const list = texts(input, where);
    const topK = o.topK === undefined ? 1 : o.topK === null ? Infinity : positiveInt(o.topK, where, 'topK');
    const fns: readonly ClassifyFunction[] = ['softmax', 'sigmoid', 'none'];
    if (o.functionToApply !== undefined && !fns.includes(o.functionToApply)) throw new RangeError(`${where}: 'functionToApply' must be one of ${fns.map((f) => `'${f}'`).join(', ')}, got ${JSON.stringify(o.functionToApply)}`);
    this.needTask('sequenceClassification', where, 'a sequence classification model (…ForSequenceClassification)');
    const { numLabels, problemType } = this.model.config;
    const fn = o.functionToApply ?? (problemType === 'multi_label_classification' || numLabels === 1 ? 'sigmoid' : 'softmax');
    const outs = await this.run(list.map((t, i) => this.encode(t, undefined, this.maxLength, where, false, i)), {});
    return outs.map((out) => {
      const l = out.logits!;
      const s = fn === 'softmax' ? softmax(l) : fn === 'sigmoid' ? Array.from(l, sigmoid) : Array.from(l);
      const r = s.map((score, i) => ({ label: this.label(i), score }));
      r.sort((a, b) => b.score - a.score);
      return r.slice(0, topK);
    });
  }

  /** Entities of one text with character offsets, as Hugging Face's token-classification pipeline. */
  async tokenClassify(input: string, opts?: TokenClassifyOptions): Promise<TokenEntity[]> {
    const where = 'tokenClassify';
    const o = options(opts, ['aggregation', 'ignoreLabels'], where);
    const t = text(input, where, 'text');
    if (o.aggregation !== undefined && !AGGREGATIONS.includes(o.aggregation)) throw new RangeError(`${where}: 'aggregation' must be one of ${AGGREGATIONS.map((a) => `'${a}'`).join(', ')}, got ${JSON.stringify(o.aggregation)}`);
    if (o.ignoreLabels !== undefined && !(Array.isArray(o.ignoreLabels) && o.ignoreLabels.every((x) => typeof x === 'string'))) throw new TypeError(`${where}: 'ignoreLabels' must be an array of label strings`);
    this.needTask('tokenClassification', where, 'a token classification model (…ForTokenClassification)');
    const enc = this.encode(t, undefined, this.maxLength, where, false);
    const [out] = await this.run([enc], {});
    return tokenEntities(t, enc, out!.logits!, this.model.config.numLabels, (i) => this.label(i), this.tokenizer, o);
  }

  /** Candidates for every mask token of `text` (one list per mask, in order), as Hugging Face's fill-mask pipeline. */
  async fillMask(input: string, opts?: FillMaskOptions): Promise<FillMaskResult[][]> {
    const where = 'fillMask';
    const o = options(opts, ['topK', 'targets'], where);
    const t = text(input, where, 'text');
    const topK = o.topK === undefined ? 5 : positiveInt(o.topK, where, 'topK');
    this.needTask('maskedLM', where, 'a masked-LM model (…ForMaskedLM)');
    const maskToken = specialToken(this.tokenizerConfig, 'mask_token') ?? ['[MASK]', '<mask>'].find((m) => this.tokenizer.tokenToId(m) !== undefined);
    const maskId = maskToken === undefined ? undefined : this.tokenizer.tokenToId(maskToken);
    if (maskToken === undefined || maskId === undefined) throw new RangeError(`${where}: the tokenizer has no mask token (tokenizer_config.json mask_token, [MASK] or <mask>)`);
    const targets = o.targets === undefined ? undefined : targetIds(o.targets, this.tokenizer, where);
    const enc = this.encode(t, undefined, this.maxLength, where, false);
    if (!enc.ids.includes(maskId)) throw new RangeError(`${where}: 'text' has no mask token ${maskToken}; put ${maskToken} where a token should be predicted`);
    const [out] = await this.run([enc], {});
    const cleanup = this.tokenizerConfig.clean_up_tokenization_spaces === true;
    return fillMaskResults(enc.ids, out!.logits!, maskId, topK, targets, (ids, skip) => {
      const s = this.tokenizer.decode(ids, { skipSpecialTokens: skip });
      return cleanup ? cleanupTokenization(s) : s;
    });
  }

  /** The model's outputs per text (hidden states, pooled, logits; what forward options ask for) with each encoding. */
  async forwardText(input: readonly string[], opts: ForwardTextOptions = {}): Promise<TextOutput[]> {
    const where = 'forwardText';
    if (typeof opts !== 'object' || opts === null || Array.isArray(opts)) throw new TypeError(`${where}: options must be an object`);
    const { pairs, truncate, ...forward } = opts;
    const list = texts(input, where);
    if (pairs !== undefined) {
      texts(pairs, where, 'pairs');
      if (pairs.length !== list.length) throw new RangeError(`${where}: 'pairs' holds ${pairs.length} texts, 'texts' ${list.length}`);
    }
    if (truncate !== undefined && typeof truncate !== 'boolean') throw new TypeError(`${where}: 'truncate' must be a boolean`);
    const encs = list.map((t, i) => this.encode(t, pairs?.[i], this.maxLength, where, truncate ?? false, i));
    const outs = await this.run(encs, forward);
    return outs.map((o, i) => ({ ...o, encoding: encs[i]! }));
  }

  /** Frees the model's native weights; every task afterwards throws. */
  dispose(): void {
    this.model.dispose();
  }
  async [Symbol.asyncDispose](): Promise<void> {
    await this.queue.catch(() => undefined);
    this.dispose();
  }

  private label(i: number): string {
    return this.model.config.id2label?.[i] ?? `LABEL_${i}`;
  }

  private needTask(task: EncoderTask, where: string, what: string): void {
    const c = this.model.config;
    if (c.task !== task) throw new TypeError(`${where}: ${this.dir} is a ${c.hfArchitecture}, which has ${TASK_CLASS[c.task]}; ${where} needs ${what}`);
  }

  /** Encodes one text (or pair) to at most `max` tokens: truncated longest_first, or a RangeError naming the text. */
  private encode(t: string, pair: string | undefined, max: number, where: string, truncate: boolean, index?: number): EncodeResult {
    const e = this.tokenizer.encodeWithOffsets(t, {
      ...(pair === undefined ? {} : { pair }), ...(truncate ? { truncation: { maxLength: max, strategy: 'longest_first' as const } } : {}),
    });
    if (e.ids.length > max) {
      const name = index === undefined ? "'text'" : `'texts[${index}]'`;
      throw new RangeError(`${where}: ${name} has ${e.ids.length} tokens, more than the ${max} the model takes (max_position_embeddings, maxTokens)`);
    }
    return e;
  }

  /**
   * Runs encodings through the model as packed passes, each holding at most maxBatch sequences
   * and maxTokens tokens, one pass at a time (calls made while one runs wait their turn).
   */
  private run(encs: readonly EncodeResult[], forward: Record<string, unknown>): Promise<EncoderOutput[]> {
    const job = this.queue.catch(() => undefined).then(async () => {
      const out: EncoderOutput[] = [];
      const { maxBatch, maxTokens } = this.model;
      // A model with one token type (RoBERTa, XLM-R) or none takes no type ids: HF's tokenizers
      // for them leave token_type_ids out of the model's inputs, whatever the post-processor says.
      const types = this.model.config.typeVocabSize > 1;
      for (let i = 0; i < encs.length;) {
        let tokens = 0;
        let j = i;
        while (j < encs.length && j - i < maxBatch && tokens + encs[j]!.ids.length <= maxTokens) tokens += encs[j++]!.ids.length;
        const chunk = encs.slice(i, j);
        out.push(...(await this.model.forward(chunk.map((e) => e.ids), { ...forward, ...(types ? { tokenTypeIds: chunk.map((e) => e.typeIds) } : {}) })));
        i = j;
      }
      return out;
    });
    this.queue = job;
    return job;
  }
}
