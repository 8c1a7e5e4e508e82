// Messages between the pool (main thread) and its workers. Each request gets its own
// MessageChannel: the worker streams chunks on it and the pool sends cancellation on it.

import type { TextSequence } from '../generate/beam-text.js';
import type { MessagePort } from 'node:worker_threads';
import type { WireGenerateOptions } from '../generate/options.js';
import type { EncoderWire, ModelInfo } from './encoder-requests.js';

// The generation options a worker receives: the facade's own type, validated on the main thread,
// without the fields that cannot be cloned to a worker (signal, processors).
export type { WireGenerateOptions };

// System, user, assistant (with tool calls) and tool messages, as the chat template reads them.
export type { ChatMessage } from '../generate/chat.js';
import type { ChatMessage } from '../generate/chat.js';

export interface WireRequest {
  id: number;
  /** Plain completion prompt, text or token ids (empty when `messages` is given). */
  prompt: string | readonly number[];
  /** Chat messages, rendered by the engine with the model's chat template. */
  messages?: ChatMessage[];
  /** Function definitions passed to the chat template with `messages` (Hugging Face's `tools`). */
  tools?: readonly Record<string, unknown>[];
  options: WireGenerateOptions;
  /** An encoder task instead of generation (prompt and options are then unused). */
  encoder?: EncoderWire;
  /** Transferred port: the worker posts WorkerToPool messages and listens for PoolToWorker. */
  port: MessagePort;
}

export type FinishReason = 'length' | 'eos' | 'stop' | 'aborted' | 'timeout';

export interface WireResult {
  text: string;
  ids: number[];
  finishReason: FinishReason;
  promptTokens: number;
  /** per generated id, when the request asked for logprobs */
  logprobs?: number[];
  /** with numBeams > 1: the numReturnSequences best, best first (text and ids above are the first's) */
  sequences?: TextSequence[];
  timings: { timeToFirstTokenMs: number; prefillTokensPerSecond: number; decodeTokensPerSecond: number; totalMs: number };
}

/**
 * Forward passes a worker's engine ran since its previous report, sent on a request's port when
 * the request ends: `histogram[n]` counts passes that carried n sequences.
 */
export type BatchReport = {
  type: 'batch'; passes: number; sequences: number; tokens: number; histogram: number[]; prefixTokens?: number;
  /** The reporting worker (its threadId) and the KV pages its engine holds now, where it knows. */
  worker?: number; kvPagesInUse?: number;
};

/** What a worker says on the control channel: its engine loaded, or failed to (with the error). */
export type WorkerStatus = { type: 'ready'; worker: number; model?: ModelInfo } | { type: 'failed'; worker: number; error: WireError };

/**
 * An error thrown by a request's generation, as it crosses back to the pool: structured clone
 * keeps only an Error's message, so the class and code travel beside it. A task that rejects with
 * anything else did not end by throwing: its worker died under it.
 */
export interface WireError {
  wireError: true;
  name: string;
  message: string;
  code?: string;
  path?: string;
  what?: string;
}

export type WorkerToPool = { type: 'chunk'; token: number; text: string } | BatchReport;
export type PoolToWorker = { type: 'cancel'; reason: 'aborted' | 'timeout' };

/** Options every worker receives (Piscina workerData). */
export interface WorkerConfig {
  /** Module that exports `createEngine(config)`; default: the model engine. */
  engineModule: string;
  model?: string;
  backend?: string;
  dtype?: string;
  kvDtype?: string;
  threads: number;
  maxBatch: number;
  /** Batch the sequences a worker serves into one forward pass per step; default true. */
  batching?: boolean;
  /** Most new tokens in one batched pass; default: the engine's. */
  maxBatchTokens?: number;
  /** BroadcastChannel name the pool uses to tell workers to dispose their engines. */
  controlChannel: string;
  /** Extra settings for the engine module. */
  engineOptions?: Record<string, unknown>;
}
