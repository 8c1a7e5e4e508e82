// The Piscina worker entry: one engine per worker thread, created on first use from workerData,
// serving many requests at once (continuous batching happens inside the engine).

import { BroadcastChannel, workerData } from 'node:worker_threads';
import type { Engine, EngineFactory } from './engine.js';
import type { FinishReason, PoolToWorker, WireRequest, WireResult, WorkerConfig } from './protocol.js';

const config = workerData as WorkerConfig;
let engine: Promise<Engine> | undefined;

// The pool broadcasts 'shutdown' before it closes: every worker disposes its engine (native
// weights and caches) and answers, so close() resolves only once native memory is freed.
const control = new BroadcastChannel(config.controlChannel);
control.unref();
control.onmessage = (event) => {
  if ((event as MessageEvent).data !== 'shutdown') return;
  void (async () => {
    try {
      if (engine) await (await engine).dispose();
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

export default async function serve(request: WireRequest): Promise<WireResult> {
  const { port } = request;
  const controller = new AbortController();
  let reason: FinishReason = 'aborted';
  port.on('message', (msg: PoolToWorker) => {
    if (msg.type === 'cancel') {
      reason = msg.reason;
      controller.abort();
    }
  });
  try {
    const e = await getEngine();
    return await e.generate({
      prompt: request.prompt,
      messages: request.messages,
      options: request.options,
      signal: controller.signal,
      cancelReason: () => reason,
      onToken: (token, text) => port.postMessage({ type: 'chunk', token, text }),
    });
  } finally {
    port.close();
  }
}
