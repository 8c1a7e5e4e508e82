// Encoder requests as the pool takes them (embed, rerank, classify): their option types, the
// checks made on the main thread before a request queues, and the wire shapes sent to a worker
// and back. Not the batching (encoder-batcher.ts) nor the tasks' arithmetic (encoder-engine.ts).

import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { PoolingMode } from '../encoder/files.js';
import { isEncoderConfig } from '../models/encoder.js';
import { ENCODER_GGUF_ARCHITECTURES } from '../models/families/bert-gguf.js';
import { ggufArchitecture } from '../models/model.js';
import type { ClassifyFunction, LabelScore, RerankResult } from '../encoder/encoder.js';
import { checkOptionNames } from '../util/names.js';

/** 'encoder-decoder' (T5, BART, Marian) generates as a decoder does, from the encoder's input. */
export type ModelKind = 'decoder' | 'encoder' | 'encoder-decoder';

/** What a worker's engine says about its model once loaded (the pool's modelInfo()). */
export interface ModelInfo {
  kind: ModelKind;
  /** HF architecture, e.g. 'BertModel' or 'BertForSequenceClassification' (encoders). */
  architecture?: string;
  /** Most tokens one text (or query-document pair) may have (encoders). */
  maxLength?: number;
  /** Width of embed()'s vectors with the checkpoint's own pooling (encoders). */
  dimensions?: number;
  /** Which encoder tasks the model's head allows. */
  tasks?: readonly EncoderTaskName[];
}

export type EncoderTaskName = 'embed' | 'rerank' | 'classify';

/** One input of embed(): a text, or token ids used as they are (no special tokens added). */
export type EmbedInput = string | readonly number[];

export interface PoolEmbedOptions {
  /** Default: the checkpoint's sentence-transformers Pooling config, else 'mean' (as Encoder.embed). */
  pooling?: PoolingMode;
  /** L2-normalize each vector; default: as the checkpoint's modules.json says (as Encoder.embed). */
  normalize?: boolean;
  /** Cut texts longer than the model takes instead of rejecting them (RangeError); default true (as Encoder.embed). */
  truncate?: boolean;
}

export interface PoolRerankOptions {
  /** Most results, best first; default: all documents. */
  topN?: number;
  /** Put each document's text in its result; default false. */
  returnDocuments?: boolean;
  /** Cut pairs longer than the model takes (longest_first) instead of rejecting them; default true (as Encoder.rerank). */
  truncate?: boolean;
}

export interface PoolClassifyOptions {
  /** Labels per text, best first; null: all. Default 1. */
  topK?: number | null;
  /** Default: sigmoid for multi_label_classification or one label, else softmax. */
  functionToApply?: ClassifyFunction;
  /** Cut texts longer than the model takes instead of rejecting them; default false (as Encoder.classify). */
  truncate?: boolean;
}

/** An encoder request as it travels to a worker. */
export type EncoderWire =
  | { task: 'embed'; inputs: EmbedInput[]; pooling?: PoolingMode; normalize?: boolean; truncate: boolean }
  | { task: 'rerank'; query: string; documents: string[]; topN?: number; returnDocuments: boolean; truncate: boolean }
  | { task: 'classify'; inputs: string[]; topK: number | null; functionToApply?: ClassifyFunction; truncate: boolean };

export interface EmbedResult {
  /** One vector per input, in order. */
  embeddings: Float32Array[];
  /** Tokens run, all inputs together (OpenAI's usage.prompt_tokens). */
  promptTokens: number;
}

export interface RerankPoolResult {
  /** Best first; `index` is the document's position in the list given. */
  results: RerankResult[];
  promptTokens: number;
}

export interface ClassifyPoolResult {
  /** Per text, its labels best first. */
  labels: LabelScore[][];
  promptTokens: number;
}

export type EncoderWireResult = EmbedResult | RerankPoolResult | ClassifyPoolResult;

/** The result type of each encoder task. */
export interface EncoderResults {
  embed: EmbedResult;
  rerank: RerankPoolResult;
  classify: ClassifyPoolResult;
}

/** Most inputs one request may hold (OpenAI's embeddings limit). */
export const MAX_ENCODER_INPUTS = 2048;

const POOLING: readonly PoolingMode[] = ['mean', 'cls', 'max'];
const FUNCTIONS: readonly ClassifyFunction[] = ['softmax', 'sigmoid', 'none'];

function optionsObject<T extends object>(o: T | undefined, known: readonly string[], where: string): Partial<T> {
  if (o === undefined) return {};
  if (typeof o !== 'object' || o === null || Array.isArray(o)) throw new TypeError(`${where}: options must be an object`);
  checkOptionNames(o, known, where);
  return o;
}

function bool(v: unknown, name: string, where: string, fallback: boolean): boolean {
  if (v === undefined) return fallback;
  if (typeof v !== 'boolean') throw new TypeError(`${where}: '${name}' must be a boolean, got ${JSON.stringify(v)}`);
  return v;
}

function list<T>(v: unknown, name: string, where: string, item: (x: unknown, at: string) => T): T[] {
  if (!Array.isArray(v)) throw new TypeError(`${where}: '${name}' must be an array, got ${v === null ? 'null' : typeof v}`);
  if (v.length === 0) throw new RangeError(`${where}: '${name}' is empty; give at least one`);
  if (v.length > MAX_ENCODER_INPUTS) throw new RangeError(`${where}: '${name}' holds ${v.length} items, more than ${MAX_ENCODER_INPUTS}`);
  return v.map((x, i) => item(x, `${name}[${i}]`));
}

function textItem(where: string) {
  return (x: unknown, at: string): string => {
    if (typeof x !== 'string') throw new TypeError(`${where}: '${at}' must be a string, got ${x === null ? 'null' : typeof x}`);
    return x;
  };
}

function embedItem(where: string) {
  return (x: unknown, at: string): EmbedInput => {
    if (typeof x === 'string') return x;
    if (Array.isArray(x) && x.length > 0 && x.every((id) => Number.isInteger(id) && id >= 0)) return x as number[];
    throw new TypeError(`${where}: '${at}' must be a string or a non-empty array of token ids (non-negative integers)`);
  };
}

function positiveInt(v: unknown, name: string, where: string): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) throw new RangeError(`${where}: '${name}' must be a positive integer, got ${String(v)}`);
  return v;
}

/** Each task's checks: what the caller passed, as the wire request; a TypeError/RangeError naming the argument otherwise. */
export const CHECK_ENCODER_REQUEST = {
  embed(inputs: unknown, opts: PoolEmbedOptions | undefined): EncoderWire {
    const where = 'embed';
    const o = optionsObject(opts, ['pooling', 'normalize', 'truncate'], where);
    if (o.pooling !== undefined && !POOLING.includes(o.pooling)) throw new RangeError(`${where}: 'pooling' must be one of ${POOLING.map((m) => `'${m}'`).join(', ')}, got ${JSON.stringify(o.pooling)}`);
    const normalize = o.normalize === undefined ? undefined : bool(o.normalize, 'normalize', where, false);
    return {
      task: 'embed', inputs: list(inputs, 'texts', where, embedItem(where)), truncate: bool(o.truncate, 'truncate', where, true),
      ...(o.pooling === undefined ? {} : { pooling: o.pooling }), ...(normalize === undefined ? {} : { normalize }),
    };
  },
  rerank(query: unknown, documents: unknown, opts: PoolRerankOptions | undefined): EncoderWire {
    const where = 'rerank';
    const o = optionsObject(opts, ['topN', 'returnDocuments', 'truncate'], where);
    if (typeof query !== 'string') throw new TypeError(`${where}: 'query' must be a string, got ${query === null ? 'null' : typeof query}`);
    return {
      task: 'rerank', query, documents: list(documents, 'documents', where, textItem(where)),
      ...(o.topN === undefined ? {} : { topN: positiveInt(o.topN, 'topN', where) }),
      returnDocuments: bool(o.returnDocuments, 'returnDocuments', where, false), truncate: bool(o.truncate, 'truncate', where, true),
    };
  },
  classify(inputs: unknown, opts: PoolClassifyOptions | undefined): EncoderWire {
    const where = 'classify';
    const o = optionsObject(opts, ['topK', 'functionToApply', 'truncate'], where);
    if (o.functionToApply !== undefined && !FUNCTIONS.includes(o.functionToApply))
      throw new RangeError(`${where}: 'functionToApply' must be one of ${FUNCTIONS.map((f) => `'${f}'`).join(', ')}, got ${JSON.stringify(o.functionToApply)}`);
    return {
      task: 'classify', inputs: list(inputs, 'texts', where, textItem(where)),
      topK: o.topK === undefined ? 1 : o.topK === null ? null : positiveInt(o.topK, 'topK', where),
      ...(o.functionToApply === undefined ? {} : { functionToApply: o.functionToApply }), truncate: bool(o.truncate, 'truncate', where, false),
    };
  },
} as const;

/** Why a request of one kind cannot go to a pool serving the other. */
export function wrongKindMessage(request: string, kind: ModelKind, architecture?: string): string {
  const article = kind === 'decoder' ? 'a' : 'an';
  const model = architecture === undefined ? `${article} ${kind}` : `${article} ${kind} (${architecture})`;
  return kind === 'encoder'
    ? `${request}: this pool serves ${model}, which has no generation; generate, stream and chat need a decoder model (use embed, rerank or classify)`
    : `${request}: this pool serves ${model}; ${request} needs an encoder model (BERT-like), which ${article} ${kind} is not`;
}

/** Raised when a request's AbortSignal aborts before its encoder task finished (no partial result exists). */
export class RequestAbortedError extends Error {
  readonly code = 'ATTNODE_ABORTED';
  constructor(what = 'the request') {
    super(`${what} was aborted before it finished`);
    this.name = 'AbortError';
  }
}

/** Largest config.json read to tell the model's kind (real ones are a few KiB). */
const kMaxConfigBytes = 1 << 20;

/**
 * The kind of model at `model`, read from its config.json (model_type) or a GGUF file's
 * general.architecture without loading it: the pool picks its default engine by it. Anything
 * unreadable counts as a decoder (the loader then reports what is wrong with it).
 */
export function modelKindOf(model: string | undefined): ModelKind {
  if (model === undefined) return 'decoder';
  const cfg = join(model, 'config.json');
  try {
    // A regular .gguf file only (the header is read through a mapping; a FIFO is never opened).
    if (model.endsWith('.gguf') && statSync(model).isFile()) return ENCODER_GGUF_ARCHITECTURES.includes(ggufArchitecture(model)) ? 'encoder' : 'decoder';
    // Only a regular file of a config's size is read here: a FIFO would block the main thread (the loader refuses it by name).
    if (!statSync(model).isDirectory() || !existsSync(cfg) || !statSync(cfg).isFile() || statSync(cfg).size > kMaxConfigBytes) return 'decoder';
    const parsed = JSON.parse(readFileSync(cfg, 'utf8')) as unknown;
    return typeof parsed === 'object' && parsed !== null && isEncoderConfig(parsed as Record<string, unknown>) ? 'encoder' : 'decoder';
  } catch {
    return 'decoder';
  }
}

/** The scheduling options an encoder request takes beside its task's own. */
export interface EncoderRequestOptions {
  /** Higher runs first; a finite number, default 0. */
  priority?: number;
  /** Per-request timeout in ms (RequestTimeoutError); default: the pool's timeoutMs. */
  timeoutMs?: number;
  /** Aborting rejects the request with RequestAbortedError (name 'AbortError'). */
  signal?: AbortSignal;
}

/** An encoder request's options split into its task (checked by `check`) and the pool's scheduling options (checked as it queues). */
export function splitEncoderOptions<O extends object>(task: string, options: O & EncoderRequestOptions, check: (o: O) => EncoderWire): { encoder: EncoderWire; scheduling: EncoderRequestOptions } {
  if (typeof options !== 'object' || options === null) throw new TypeError(`${task}: options must be an object`);
  const { priority, timeoutMs, signal, ...rest } = options;
  return {
    encoder: check(rest as O),
    scheduling: { ...(priority === undefined ? {} : { priority }), ...(timeoutMs === undefined ? {} : { timeoutMs }), ...(signal === undefined ? {} : { signal }) },
  };
}
