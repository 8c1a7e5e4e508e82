// What a worker runs: an Engine takes generation requests and serves them, batching the
// sequences that are active at the same time into one forward pass per step.

import type { BatchStats } from '../generate/decoder-lm.js';
import type { ChatMessage, FinishReason, WireGenerateOptions, WireResult, WorkerConfig } from './protocol.js';
import type { EncoderWire, EncoderWireResult, ModelInfo, ModelKind } from './encoder-requests.js';

export interface EngineRequest {
  /** Text, or token ids. */
  prompt: string | readonly number[];
  /** Chat messages to render with the model's chat template instead of `prompt`. */
  messages?: ChatMessage[];
  /** Function definitions the chat template lists beside `messages`. */
  tools?: readonly Record<string, unknown>[];
  options: WireGenerateOptions;
  /** Called for every generated token, in order. */
  onToken(token: number, text: string): void;
  /** Aborted when the pool cancels the request; the engine stops it within one step. */
  signal: AbortSignal;
  /** Why the request was cancelled, read when `signal` aborts. */
  cancelReason(): FinishReason;
}

/** An encoder task (embed, rerank, classify) as a worker's engine receives it. */
export interface EncoderEngineRequest {
  task: EncoderWire;
  /** Aborted when the pool cancels the request; the engine stops before its next pass. */
  signal: AbortSignal;
}

export interface Engine {
  /** The kind of model served; default 'decoder'. The pool refuses requests of the other kind. */
  kind?: ModelKind;
  /** What the pool's modelInfo() reports; default { kind }. */
  info?(): ModelInfo;
  generate(request: EngineRequest): Promise<WireResult>;
  /** Runs an encoder task; engines of decoders omit it. */
  encode?(request: EncoderEngineRequest): Promise<EncoderWireResult>;
  /** Forward passes run so far (cumulative), for the pool's metrics; engines that do not batch may omit it. */
  batchStats?(): BatchStats;
  /** KV-cache pages the engine's sequences hold now, for the pool's metrics; optional. */
  kvPagesInUse?(): number;
  /** Frees every native resource (weights, caches). */
  dispose(): Promise<void>;
}

export type EngineFactory = (config: WorkerConfig) => Promise<Engine>;
