// What a worker runs: an Engine takes generation requests and serves them, batching the
// sequences that are active at the same time into one forward pass per step.

import type { BatchStats } from '../generate/decoder-lm.js';
import type { ChatMessage, FinishReason, WireGenerateOptions, WireResult, WorkerConfig } from './protocol.js';

export interface EngineRequest {
  /** Text, or token ids. */
  prompt: string | readonly number[];
  /** Chat messages to render with the model's chat template instead of `prompt`. */
  messages?: ChatMessage[];
  options: WireGenerateOptions;
  /** Called for every generated token, in order. */
  onToken(token: number, text: string): void;
  /** Aborted when the pool cancels the request; the engine stops it within one step. */
  signal: AbortSignal;
  /** Why the request was cancelled, read when `signal` aborts. */
  cancelReason(): FinishReason;
}

export interface Engine {
  generate(request: EngineRequest): Promise<WireResult>;
  /** Forward passes run so far (cumulative), for the pool's metrics; engines that do not batch may omit it. */
  batchStats?(): BatchStats;
  /** KV-cache pages the engine's sequences hold now, for the pool's metrics; optional. */
  kvPagesInUse?(): number;
  /** Frees every native resource (weights, caches). */
  dispose(): Promise<void>;
}

export type EngineFactory = (config: WorkerConfig) => Promise<Engine>;
