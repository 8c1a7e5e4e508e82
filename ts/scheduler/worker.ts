// The Piscina worker entry: one engine per worker thread, created as the worker starts from
// workerData (the pool's ready() waits for it), serving many requests at once (continuous
// batching happens inside the engine).

import { BroadcastChannel, threadId, workerData, type MessagePort } from 'node:worker_threads';
import type { BatchStats } from '../generate/decoder-lm.js';
import type { Engine, EngineFactory } from './engine.js';
import { wrongKindMessage, type EncoderWireResult } from './encoder-requests.js';
import type { BatchReport, FinishReason, PoolToWorker, WireError, WireRequest, WireResult, WorkerConfig, WorkerStatus } from './protocol.js';

const config = workerData as WorkerConfig;
let engine: Promise<Engine> | undefined;
/** The engine's pass counts as of the last report to the pool. */
let reported: BatchStats = { passes: 0, sequences: 0, tokens: 0, histogram: [], prefixTokens: 0 };

// The pool broadcasts 'shutdown' before it closes: every worker disposes its engine (native
// weights and caches) and answers, so close() resolves only once native memory is freed.
const control = new BroadcastChannel(config.controlChannel);
control.unref();
control.onmessage = (event) => {
  if ((event as MessageEvent).data !== 'shutdown') return;
  void (async () => {
    try {
      if (engine) await (await engine).dispose();
    } catch {
      // An engine that failed to load has nothing to dispose; its error went out as 'failed'.
    } finally {
      engine = undefined;
      control.postMessage('disposed');
    }
  })();
};

function getEngine(): Promise<Engine> {
  engine ??= (async () => {
    const mod = (await import(config.engineModule)) as { createEngine?: EngineFactory };
    if (typeof mod.createEngine !== 'function') throw new TypeError(`${config.engineModule} does not export createEngine(config)`);
    return mod.createEngine(config);
  })();
  return engine;
}

/** An error as it crosses to the pool (protocol.ts WireError). */
function toWire(e: unknown): WireError {
  if (!(e instanceof Error)) return { wireError: true, name: 'Error', message: String(e) };
  const { code, path, what } = e as Error & { code?: unknown; path?: unknown; what?: unknown };
  return {
    wireError: true, name: e.name, message: e.message,
    ...(typeof code === 'string' ? { code } : {}), ...(typeof path === 'string' ? { path } : {}), ...(typeof what === 'string' ? { what } : {}),
  };
}

// Load at once, so a pool is ready (or has failed, with the loader's error) before its first request.
getEngine().then(
  (e) => control.postMessage({ type: 'ready', worker: threadId, model: e.info?.() ?? { kind: e.kind ?? 'decoder' } } satisfies WorkerStatus),
  (e: unknown) => control.postMessage({ type: 'failed', worker: threadId, error: toWire(e) } satisfies WorkerStatus),
);

/** Sends the passes run since the last report on a request's port (the pool sums the reports). */
function reportBatches(e: Engine, port: MessagePort): void {
  const now = e.batchStats?.();
  if (!now || now.passes === reported.passes) return;
  const msg: BatchReport = {
    type: 'batch',
    passes: now.passes - reported.passes,
    sequences: now.sequences - reported.sequences,
    tokens: now.tokens - reported.tokens,
    histogram: now.histogram.map((n, i) => n - (reported.histogram[i] ?? 0)),
    prefixTokens: (now.prefixTokens ?? 0) - (reported.prefixTokens ?? 0),
    worker: threadId,
    ...(e.kvPagesInUse ? { kvPagesInUse: e.kvPagesInUse() } : {}),
  };
  reported = now;
  port.postMessage(msg);
}

export default async function serve(request: WireRequest): Promise<WireResult | EncoderWireResult> {
  const { port } = request;
  const controller = new AbortController();
  let reason: FinishReason = 'aborted';
  port.on('message', (msg: PoolToWorker) => {
    if (msg.type === 'cancel') {
      reason = msg.reason;
      controller.abort();
    }
  });
  let e: Engine | undefined;
  try {
    e = await getEngine();
    if (request.encoder !== undefined) {
      if (!e.encode) throw new TypeError(wrongKindMessage(request.encoder.task, e.kind ?? 'decoder', e.info?.().architecture));
      return await e.encode({ task: request.encoder, signal: controller.signal });
    }
    return await e.generate({
      prompt: request.prompt,
      messages: request.messages,
      ...(request.tools !== undefined ? { tools: request.tools } : {}),
      options: request.options,
      signal: controller.signal,
      cancelReason: () => reason,
      onToken: (token, text) => port.postMessage({ type: 'chunk', token, text }),
    });
  } catch (err) {
    // Thrown as a plain object on purpose: the pool tells a request's own error (this) from a
    // worker that died under it (anything else).
    throw toWire(err);
  } finally {
    if (e) reportBatches(e, port);
    port.close();
  }
}
