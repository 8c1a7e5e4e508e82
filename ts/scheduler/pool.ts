// createPool: one model served by Piscina worker threads. Requests wait in a bounded priority
// queue on the main thread and are dispatched only when a worker has room in its batch, so
// priorities, fairness, backpressure and cancellation are decided here; the workers' engines
// batch whatever is running (continuous batching). The main thread never runs a kernel.

import { availableParallelism } from 'node:os';
import { BroadcastChannel, MessageChannel, type MessagePort } from 'node:worker_threads';
import { fileURLToPath } from 'node:url';
import { Piscina } from 'piscina';
import { checkChatMessages, checkChatTools } from '../generate/chat.js';
import { checkBatchOptions } from '../generate/decoder-lm.js';
import { validateGenerateOptions, type GenerateOptions } from '../generate/options.js';
import { PoolClosedError, QueueFullError, RequestTimeoutError, WorkerCrashedError } from './errors.js';
import { ModelFileChangedError } from '../io/files.js';
import { MetricsRecorder, type PoolMetrics } from './metrics.js';
import type { ChatMessage, FinishReason, PoolToWorker, WireError, WireGenerateOptions, WireResult, WorkerConfig, WorkerStatus, WorkerToPool } from './protocol.js';
import { checkOptionNames } from '../util/names.js';
import { checkBackendName, type BackendName } from '../backend/backends.js';
import {
  CHECK_ENCODER_REQUEST, RequestAbortedError, modelKindOf, splitEncoderOptions, wrongKindMessage, type EncoderRequestOptions,
  type EmbedInput, type EncoderResults, type EncoderWire, type EncoderWireResult, type ModelInfo, type PoolClassifyOptions, type PoolEmbedOptions, type PoolRerankOptions,
} from './encoder-requests.js';

export interface PoolOptions {
  /** Model path (HF directory or GGUF file); default: the engine's default model. */
  model?: string;
  /** A backend of the registry by name (backendNames()); default 'native'. Checked here, created in each worker. */
  backend?: BackendName;
  dtype?: string;
  /** KV cache element type: 'f32' (default) or 'f16'. */
  kvDtype?: string;
  /** Worker threads; default 1 (one engine batching every request). */
  workers?: number;
  /** Kernel threads per worker; default: cores / workers (at least 1). */
  threadsPerWorker?: number;
  /** Requests allowed to wait; beyond it, requests reject with QueueFullError. Default 1024. */
  maxQueue?: number;
  /** Sequences a worker serves at once (its batch); default 8. */
  maxBatch?: number;
  /**
   * A worker's sequences share one forward pass per step (continuous batching; up to 16
   * sequences a pass, more take turns); default true. false: they interleave, one pass each.
   */
  batching?: boolean;
  /**
   * Decoders: most new tokens in one batched pass (longer prompts are split across passes);
   * default 128. Encoders: most tokens in one packed pass, shared by the requests waiting
   * (the token budget of continuous batching; a text must fit in one); default
   * min(16 x max_position_embeddings, 4096), at least 16.
   */
  maxBatchTokens?: number;
  /** Default per-request timeout in ms, at most MAX_TIMEOUT_MS (Infinity: none); default: none. */
  timeoutMs?: number;
  /** How long a waiting request gains one priority level, in ms (starvation guard); default 5000. */
  agingMs?: number;
  /** Module exporting createEngine(config) that workers run; default: the encoder engine for an encoder checkpoint (config.json model_type), else the model engine. */
  engineModule?: string | URL;
  engineOptions?: Record<string, unknown>;
}

/** Every option createPool takes; any other name is a TypeError. */
const POOL_OPTIONS: readonly (keyof PoolOptions)[] = [
  'model', 'backend', 'dtype', 'kvDtype', 'workers', 'threadsPerWorker', 'maxQueue', 'maxBatch', 'batching', 'maxBatchTokens', 'timeoutMs', 'agingMs', 'engineModule', 'engineOptions',
];

/**
 * A request's options: the generation options of LanguageModel.generate (all but `processors`,
 * which cannot cross to a worker thread), `signal` to cancel, and the pool's scheduling options.
 */
export interface RequestOptions extends Omit<GenerateOptions, 'processors'> {
  /** Higher runs first; a finite number, default 0. */
  priority?: number;
  /** Per-request timeout in ms, in (0, MAX_TIMEOUT_MS] or Infinity for none; default: the pool's timeoutMs. */
  timeoutMs?: number;
}

/** A chat request's options: RequestOptions and the function definitions its template lists. */
export interface ChatRequestOptions extends RequestOptions {
  /** As Hugging Face's apply_chat_template takes them (OpenAI's { type: 'function', function: { name, description, parameters } }). */
  tools?: readonly Record<string, unknown>[];
}

/** The longest timer Node keeps (2^31 - 1 ms, about 24.8 days); a longer one would fire at once. */
export const MAX_TIMEOUT_MS = 2 ** 31 - 1;

/** A timeout as the pool keeps it: undefined for none (Infinity), else checked to fit a timer. */
function checkTimeout(v: unknown, name: string): number | undefined {
  if (v === undefined || v === Number.POSITIVE_INFINITY) return undefined;
  if (typeof v !== 'number' || !(v > 0 && v <= MAX_TIMEOUT_MS))
    throw new RangeError(`${name} must be a number in (0, ${MAX_TIMEOUT_MS}] ms or Infinity for none, got ${String(v)}`);
  return v;
}

/** An error a worker sent back (protocol.ts WireError) as the class it was thrown as. */
function fromWire(e: WireError): Error {
  if (e.code === 'ATTNODE_MODEL_FILE_CHANGED' && e.path !== undefined) return new ModelFileChangedError(e.path, e.what ?? 'it changed');
  const Ctor = e.name === 'TypeError' ? TypeError : e.name === 'RangeError' ? RangeError : Error;
  const err = new Ctor(e.message);
  if (Ctor === Error && e.name !== 'Error') err.name = e.name;
  if (e.code !== undefined) (err as Error & { code?: string }).code = e.code;
  return err;
}

function isWireError(e: unknown): e is WireError {
  return typeof e === 'object' && e !== null && (e as { wireError?: unknown }).wireError === true;
}

interface CheckedRequest {
  wire: WireGenerateOptions;
  signal: AbortSignal | undefined;
  priority: number;
  timeoutMs: number | undefined;
}

/** The generation options that stay on the main thread, and why. */
const REFUSED = { processors: 'logits processors are functions, which cannot be sent to a worker thread; run them in-process with LanguageModel' };

/**
 * Splits and checks a request's options at submit time, so a bad one rejects before it queues:
 * the scheduling options here, the generation options by the shared validator.
 */
function checkRequestOptions(options: RequestOptions, defaultTimeout: number | undefined): CheckedRequest {
  if (typeof options !== 'object' || options === null) throw new TypeError(`'options' must be an object, got ${String(options)}`);
  const { priority = 0, timeoutMs: given, ...generation } = options;
  if (typeof priority !== 'number' || !Number.isFinite(priority)) throw new RangeError(`'priority' must be a finite number, got ${String(priority)}`);
  const timeoutMs = given === undefined ? defaultTimeout : checkTimeout(given, "'timeoutMs'");
  const { signal, ...wire } = validateGenerateOptions(generation, { alsoKnown: ['priority', 'timeoutMs'], refused: REFUSED });
  // `processors` was refused above, so what is left clones to a worker.
  return { wire, signal, priority, timeoutMs };
}

export interface StreamChunk {
  token: number;
  text: string;
}

export type PoolResult = WireResult;

interface RequestInput {
  /** Text, or token ids (as OpenAI's API accepts). */
  prompt: string | readonly number[];
  messages?: ChatMessage[];
  tools?: readonly Record<string, unknown>[];
  /** An encoder task instead of generation. */
  encoder?: EncoderWire;
}



interface Pending {
  id: number;
  prompt: string | readonly number[];
  messages: ChatMessage[] | undefined;
  tools: readonly Record<string, unknown>[] | undefined;
  options: WireGenerateOptions;
  encoder: EncoderWire | undefined;
  priority: number;
  enqueuedAt: number;
  timeoutMs: number | undefined;
  signal: AbortSignal | undefined;
  onChunk: ((c: StreamChunk) => void) | undefined;
  resolve(r: PoolResult | EncoderWireResult): void;
  reject(e: unknown): void;
  settled: boolean;
  port?: MessagePort;
  timer?: NodeJS.Timeout;
  text: string;
  firstTokenAt?: number;
  cancelled?: FinishReason;
  onAbort?: () => void;
}

function here(file: string): string {
  // Workers load compiled JavaScript: from dist/ when this module runs from there, else from
  // the dist/ twin of a source checkout (built by `npm run build:ts`).
  const url = import.meta.url.endsWith('.ts') ? import.meta.url.replace('/ts/scheduler/', '/dist/scheduler/') : import.meta.url;
  return new URL(`./${file}.js`, url).href;
}

let poolCounter = 0;

export class InferencePool {
  private readonly piscina: Piscina;
  private readonly queue: Pending[] = [];
  private readonly running = new Set<Pending>();
  private readonly capacity: number;
  private readonly maxQueue: number;
  private readonly agingMs: number;
  private readonly defaultTimeout: number | undefined;
  private readonly metricsRecorder = new MetricsRecorder();
  private readonly control: BroadcastChannel;
  private readonly workers: number;
  private nextId = 1;
  private closing: Promise<void> | undefined;
  private idleWaiters: Array<() => void> = [];
  private readonly loaded: Promise<void>;
  private workerCrashes = 0;
  private readonly kvPages = new Map<number, number>();
  private info: ModelInfo | undefined;

  constructor(options: PoolOptions = {}) {
    if (typeof options !== 'object' || options === null) throw new TypeError('createPool: options must be an object');
    checkOptionNames(options, POOL_OPTIONS, 'createPool', { maxTokens: 'is a request option (pool.generate(prompt, { maxTokens }))' });
    const cores = availableParallelism();
    const workers = options.workers ?? 1;
    if (!Number.isInteger(workers) || workers < 1 || workers > 256) throw new RangeError(`createPool: 'workers' must be an integer in [1, 256], got ${workers}`);
    const threads = options.threadsPerWorker ?? Math.max(1, Math.floor(cores / workers));
    if (!Number.isInteger(threads) || threads < 1 || threads > 1024) throw new RangeError(`createPool: 'threadsPerWorker' must be an integer in [1, 1024], got ${threads}`);
    const maxBatch = options.maxBatch ?? 8;
    if (!Number.isInteger(maxBatch) || maxBatch < 1 || maxBatch > 1024) throw new RangeError(`createPool: 'maxBatch' must be an integer in [1, 1024], got ${maxBatch}`);
    const maxQueue = options.maxQueue ?? 1024;
    if (!Number.isInteger(maxQueue) || maxQueue < 0) throw new RangeError(`createPool: 'maxQueue' must be a non-negative integer, got ${maxQueue}`);
    const defaultTimeout = checkTimeout(options.timeoutMs, "createPool: 'timeoutMs'");
    checkBatchOptions(options, 'createPool');
    if (options.backend !== undefined) checkBackendName(options.backend, 'createPool');
    this.workers = workers;
    this.capacity = workers * maxBatch;
    this.maxQueue = maxQueue;
    this.agingMs = options.agingMs ?? 5000;
    this.defaultTimeout = defaultTimeout;
    const controlChannel = `attnode-pool-${process.pid}-${++poolCounter}`;
    this.control = new BroadcastChannel(controlChannel);
    this.control.unref();
    this.loaded = new Promise<void>((resolve, reject) => {
      const seen = new Set<number>();
      this.control.addEventListener('message', (event) => {
        const msg = (event as MessageEvent).data as WorkerStatus | string;
        if (typeof msg !== 'object' || msg === null) return;
        if (msg.type === 'failed') reject(fromWire(msg.error));
        else if (msg.type === 'ready') {
          this.info ??= msg.model ?? { kind: 'decoder' };
          if (seen.add(msg.worker).size >= workers) resolve();
        }
      });
    });
    // The channel keeps the process alive only while the workers load: someone awaiting ready()
    // must get an answer, a pool left idle afterwards must not hold the process open.
    this.control.ref();
    this.loaded.then(
      () => this.control.unref(),
      () => this.control.unref(),
    );
    const engineModule = options.engineModule !== undefined ? String(options.engineModule) : here(modelKindOf(options.model) === 'encoder' ? 'encoder-engine' : 'model-engine');
    const workerData: WorkerConfig = {
      engineModule: engineModule.startsWith('file:') || engineModule.startsWith('/') ? engineModule : fileURLToPath(engineModule),
      model: options.model,
      backend: options.backend,
      dtype: options.dtype,
      kvDtype: options.kvDtype,
      threads,
      maxBatch,
      batching: options.batching,
      maxBatchTokens: options.maxBatchTokens,
      controlChannel,
      engineOptions: options.engineOptions,
    };
    const filename = here('worker');
    this.piscina = new Piscina({
      filename,
      minThreads: workers,
      maxThreads: workers,
      concurrentTasksPerWorker: maxBatch,
      idleTimeout: Number.POSITIVE_INFINITY,
      workerData,
      // Workers must keep their event loop turning between tasks: cancellation and shutdown
      // arrive as messages, which Piscina's Atomics-based idle wait would hold back.
      atomics: 'disabled',
    });
    // Errors of individual tasks are reported per request; this only keeps a dying worker
    // from becoming an unhandled 'error' event.
    this.piscina.on('error', () => {});
  }

  /**
   * Resolves once every worker has loaded the model; rejects with the loader's error when one
   * could not (a service calls it before it reports ready). Workers start loading as the pool is made.
   */
  ready(): Promise<void> {
    return this.loaded;
  }

  /** What the model is (decoder or encoder, and an encoder's limits), once every worker has loaded it. */
  async modelInfo(): Promise<ModelInfo> {
    await this.loaded;
    return this.info ?? { kind: 'decoder' };
  }

  /** Sentence embeddings of an encoder model, one per input, as Encoder.embed gives them. */
  embed(inputs: readonly EmbedInput[], options: PoolEmbedOptions & EncoderRequestOptions = {}): Promise<EncoderResults['embed']> {
    return this.encoderRequest('embed', options, (o) => CHECK_ENCODER_REQUEST.embed(inputs, o));
  }

  /** Documents scored against a query by a cross-encoder, best first, as Encoder.rerank gives them. */
  rerank(query: string, documents: readonly string[], options: PoolRerankOptions & EncoderRequestOptions = {}): Promise<EncoderResults['rerank']> {
    return this.encoderRequest('rerank', options, (o) => CHECK_ENCODER_REQUEST.rerank(query, documents, o));
  }

  /** Labels with scores per text from a sequence classification model, as Encoder.classify gives them. */
  classify(texts: readonly string[], options: PoolClassifyOptions & EncoderRequestOptions = {}): Promise<EncoderResults['classify']> {
    return this.encoderRequest('classify', options, (o) => CHECK_ENCODER_REQUEST.classify(texts, o));
  }

  private encoderRequest<K extends keyof EncoderResults, O extends object>(task: K, options: O & EncoderRequestOptions, check: (o: O) => EncoderWire): Promise<EncoderResults[K]> {
    if (this.info !== undefined && this.info.kind !== 'encoder') return Promise.reject(new TypeError(wrongKindMessage(task, this.info.kind, this.info.architecture)));
    try {
      const { encoder, scheduling } = splitEncoderOptions(task, options, check);
      return this.enqueue<EncoderResults[K]>({ prompt: '', encoder }, scheduling, undefined);
    } catch (e) {
      return Promise.reject(e);
    }
  }

  /** Generates a completion. Resolves with finishReason 'aborted' when `signal` aborts. */
  generate(prompt: string | readonly number[], options: RequestOptions = {}): Promise<PoolResult> {
    return this.enqueue({ prompt }, options, undefined);
  }

  /** Streams tokens as they are generated; breaking out of the loop cancels the request. */
  stream(prompt: string | readonly number[], options: RequestOptions = {}): AsyncIterable<StreamChunk> & { result: Promise<PoolResult> } {
    return this.streamInput({ prompt }, options);
  }

  /**
   * A chat completion: `messages` (and `options.tools`, function definitions as Hugging Face's
   * apply_chat_template takes them) rendered with the model's chat template.
   */
  chat(messages: ChatMessage[], options: ChatRequestOptions = {}): Promise<PoolResult> {
    const { tools, ...rest } = options;
    return this.enqueue({ prompt: '', messages, ...(tools !== undefined ? { tools } : {}) }, rest, undefined);
  }

  /** Streams a chat completion. */
  streamChat(messages: ChatMessage[], options: ChatRequestOptions = {}): AsyncIterable<StreamChunk> & { result: Promise<PoolResult> } {
    const { tools, ...rest } = options;
    return this.streamInput({ prompt: '', messages, ...(tools !== undefined ? { tools } : {}) }, rest);
  }

  private streamInput(input: RequestInput, options: RequestOptions): AsyncIterable<StreamChunk> & { result: Promise<PoolResult> } {
    const chunks: StreamChunk[] = [];
    let wake: (() => void) | undefined;
    let done = false;
    let failure: unknown;
    const inner = new AbortController();
    // A bad `options` or `signal` is the request's error (from enqueue's checks), not a throw here.
    const given = typeof options === 'object' && options !== null ? options.signal : undefined;
    const signal = given instanceof AbortSignal ? AbortSignal.any([given, inner.signal]) : inner.signal;
    const merged = typeof options === 'object' && options !== null ? { ...options, ...(given === undefined || given instanceof AbortSignal ? { signal } : {}) } : options;
    const result = this.enqueue(input, merged, (c) => {
      chunks.push(c);
      wake?.();
    });
    result.then(
      () => {
        done = true;
        wake?.();
      },
      (e: unknown) => {
        failure = e;
        done = true;
        wake?.();
      },
    );
    const iterator: AsyncIterator<StreamChunk> = {
      async next() {
        for (;;) {
          if (chunks.length) return { value: chunks.shift()!, done: false };
          if (failure !== undefined) throw failure;
          if (done) return { value: undefined, done: true };
          await new Promise<void>((r) => (wake = r));
          wake = undefined;
        }
      },
      async return() {
        inner.abort();
        await result.catch(() => undefined);
        return { value: undefined, done: true };
      },
    };
    return { [Symbol.asyncIterator]: () => iterator, result };
  }

  metrics(): PoolMetrics {
    let kvPagesInUse = 0;
    for (const n of this.kvPages.values()) kvPagesInUse += n;
    return {
      ...this.metricsRecorder.snapshot({ queueDepth: this.queue.length, activeSequences: this.running.size, workers: this.workers }),
      workerCrashes: this.workerCrashes,
      kvPagesInUse,
    };
  }

  /** Clears the event-loop delay histogram (for a measurement window). */
  resetEventLoopDelay(): void {
    this.metricsRecorder.resetEventLoopDelay();
  }

  /**
   * Stops accepting requests. 'drain' (default) finishes queued and running requests; 'cancel'
   * rejects queued ones with PoolClosedError and stops running ones (finishReason 'aborted').
   * Resolves once every worker has disposed its engine and exited. With `deadlineMs`, a drain
   * that has not finished by then turns into 'cancel' (what an orchestrator's grace period needs).
   */
  close(options: { mode?: 'drain' | 'cancel'; deadlineMs?: number } = {}): Promise<void> {
    const deadline = checkTimeout(options.deadlineMs, "close: 'deadlineMs'");
    this.closing ??= (async () => {
      const cancelAll = () => {
        for (const p of this.queue.splice(0)) this.fail(p, new PoolClosedError('the pool was closed before this request started'));
        for (const p of this.running) this.cancel(p, 'aborted');
      };
      let timer: NodeJS.Timeout | undefined;
      if (options.mode === 'cancel') cancelAll();
      else if (deadline !== undefined) timer = setTimeout(cancelAll, deadline);
      while (this.queue.length || this.running.size) await new Promise<void>((r) => this.idleWaiters.push(r));
      clearTimeout(timer);
      await this.disposeEngines();
      await this.piscina.destroy();
      this.control.close();
      this.metricsRecorder.stop();
    })();
    return this.closing;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close({ mode: 'cancel' });
  }

  private async disposeEngines(): Promise<void> {
    const threads = this.piscina.threads.length;
    if (threads === 0) return;
    let acks = 0;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, 10_000);
      this.control.onmessage = (e) => {
        if ((e as MessageEvent).data === 'disposed' && ++acks >= threads) {
          clearTimeout(timer);
          resolve();
        }
      };
      this.control.postMessage('shutdown');
    });
  }

  private enqueue<R = PoolResult>(input: RequestInput, options: RequestOptions, onChunk: ((c: StreamChunk) => void) | undefined): Promise<R> {
    if (this.closing) return Promise.reject(new PoolClosedError());
    const { prompt, messages, tools, encoder } = input;
    if (encoder === undefined && this.info?.kind === 'encoder') return Promise.reject(new TypeError(wrongKindMessage('generate', 'encoder', this.info.architecture)));
    if (encoder === undefined && typeof prompt !== 'string' && !(Array.isArray(prompt) && prompt.length > 0 && prompt.every((id) => Number.isInteger(id) && id >= 0)))
      return Promise.reject(new TypeError(`'prompt' must be a string or a non-empty array of token ids, got ${Array.isArray(prompt) ? 'an array with other values' : typeof prompt}`));
    if (messages !== undefined) {
      try {
        checkChatMessages(messages);
        checkChatTools(tools);
      } catch (e) {
        return Promise.reject(new TypeError(e instanceof Error ? e.message.replace('applyChatTemplate: ', '') : String(e)));
      }
    }
    let checked: CheckedRequest;
    try {
      checked = checkRequestOptions(options, this.defaultTimeout);
    } catch (e) {
      return Promise.reject(e);
    }
    const { wire, signal, priority, timeoutMs } = checked;
    if (this.queue.length >= this.maxQueue && this.running.size >= this.capacity) {
      this.metricsRecorder.rejected++;
      return Promise.reject(new QueueFullError(this.maxQueue));
    }
    return new Promise<R>((resolve, reject) => {
      const p: Pending = {
        id: this.nextId++, prompt, messages, tools, options: wire, encoder, priority, enqueuedAt: performance.now(), timeoutMs, signal, onChunk,
        resolve: resolve as (r: PoolResult | EncoderWireResult) => void, reject, settled: false, text: '',
      };
      if (signal?.aborted) {
        if (encoder) this.fail(p, new RequestAbortedError(`${encoder.task} request`));
        else this.finish(p, this.abortedResult(p));
        return;
      }
      if (signal) {
        p.onAbort = () => this.cancel(p, 'aborted');
        signal.addEventListener('abort', p.onAbort, { once: true });
      }
      if (timeoutMs !== undefined) p.timer = setTimeout(() => this.cancel(p, 'timeout'), timeoutMs);
      this.queue.push(p);
      this.pump();
    });
  }

  /** Dispatches the best waiting requests while workers have room. */
  private pump(): void {
    while (this.running.size < this.capacity && this.queue.length) {
      const now = performance.now();
      let best = 0;
      let bestScore = -Infinity;
      for (let i = 0; i < this.queue.length; i++) {
        const q = this.queue[i]!;
        // Priority plus one level per agingMs waited; ties go to the earliest request.
        const score = q.priority + (now - q.enqueuedAt) / this.agingMs;
        if (score > bestScore) {
          bestScore = score;
          best = i;
        }
      }
      const [p] = this.queue.splice(best, 1);
      this.start(p!);
    }
    if (!this.queue.length && !this.running.size) for (const w of this.idleWaiters.splice(0)) w();
  }

  private start(p: Pending): void {
    this.running.add(p);
    const { port1, port2 } = new MessageChannel();
    p.port = port1;
    port1.on('message', (msg: WorkerToPool) => {
      if (msg.type === 'batch') {
        if (msg.worker !== undefined && msg.kvPagesInUse !== undefined) this.kvPages.set(msg.worker, msg.kvPagesInUse);
        return this.metricsRecorder.batches(msg);
      }
      if (p.settled) return;
      const now = performance.now();
      if (p.firstTokenAt === undefined) {
        p.firstTokenAt = now;
        this.metricsRecorder.firstToken(now - p.enqueuedAt);
      }
      this.metricsRecorder.token(now);
      p.text += msg.text;
      p.onChunk?.({ token: msg.token, text: msg.text });
    });
    // The worker closes its end after the last chunk; 'close' arrives after every chunk, so
    // waiting for it means a stream never misses its tail (the task result travels separately).
    const drained = new Promise<void>((resolve) => {
      port1.once('close', resolve);
      setTimeout(resolve, 2000).unref();
    });
    const encoder = p.encoder;
    this.piscina.run({ id: p.id, prompt: p.prompt, messages: p.messages, ...(p.tools !== undefined ? { tools: p.tools } : {}), options: p.options, encoder, port: port2 }, { transferList: [port2] }).then(
      async (r: WireResult | EncoderWireResult) => {
        await drained;
        if (p.cancelled === 'timeout') this.fail(p, new RequestTimeoutError(p.timeoutMs ?? 0, 'text' in r ? r.text : ''));
        else this.finish(p, r);
      },
      (err: unknown) => {
        // An encoder request has no partial result: cancelled, it rejects (as a queued one does).
        if (encoder && p.cancelled === 'timeout') return this.fail(p, new RequestTimeoutError(p.timeoutMs ?? 0, ''));
        if (encoder && p.cancelled === 'aborted') return this.fail(p, new RequestAbortedError(`${encoder.task} request`));
        // The worker sends a request's own errors as WireErrors; anything else means it died.
        if (isWireError(err)) return this.fail(p, fromWire(err));
        this.workerCrashes++;
        this.fail(p, new WorkerCrashedError(err));
      },
    );
  }

  private cancel(p: Pending, reason: 'aborted' | 'timeout'): void {
    if (p.settled || p.cancelled) return;
    p.cancelled = reason;
    const queued = this.queue.indexOf(p);
    if (queued >= 0) {
      this.queue.splice(queued, 1);
      if (reason === 'timeout') this.fail(p, new RequestTimeoutError(p.timeoutMs ?? 0, ''));
      else if (p.encoder) this.fail(p, new RequestAbortedError(`${p.encoder.task} request`));
      else this.finish(p, this.abortedResult(p));
      this.pump();
      return;
    }
    const msg: PoolToWorker = { type: 'cancel', reason };
    p.port?.postMessage(msg);
  }

  private abortedResult(p: Pending): PoolResult {
    return {
      text: p.text, ids: [], finishReason: 'aborted', promptTokens: 0,
      timings: { timeToFirstTokenMs: 0, prefillTokensPerSecond: 0, decodeTokensPerSecond: 0, totalMs: performance.now() - p.enqueuedAt },
    };
  }

  private cleanup(p: Pending): boolean {
    if (p.settled) return false;
    p.settled = true;
    if (p.timer) clearTimeout(p.timer);
    if (p.onAbort) p.signal?.removeEventListener('abort', p.onAbort);
    p.port?.close();
    const wasRunning = this.running.delete(p);
    if (wasRunning) queueMicrotask(() => this.pump());
    else if (!this.queue.length && !this.running.size) for (const w of this.idleWaiters.splice(0)) w();
    return true;
  }

  private finish(p: Pending, r: PoolResult | EncoderWireResult): void {
    if (!this.cleanup(p)) return;
    if ('finishReason' in r && r.finishReason === 'aborted') this.metricsRecorder.cancelled++;
    else this.metricsRecorder.completed++;
    p.resolve(r);
  }

  private fail(p: Pending, e: unknown): void {
    if (!this.cleanup(p)) return;
    if (e instanceof RequestAbortedError) this.metricsRecorder.cancelled++;
    else this.metricsRecorder.failed++;
    p.reject(e);
  }
}

/** Creates a pool of worker threads serving one model; see PoolOptions for the defaults. */
export function createPool(options: PoolOptions = {}): InferencePool {
  return new InferencePool(options);
}
