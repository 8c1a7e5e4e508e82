// The default scheduler engine: one LanguageModel per worker thread (weights mapped from the
// checkpoint file, so workers share the page cache instead of copying), serving every request
// the worker is given. The worker's active sequences share one forward pass per step
// (continuous batching in DecoderLM: a new request joins at the next step, each sequence keeps
// its own KV cache); with `batching: false` they interleave one pass each instead.

import { LanguageModel } from '../generate/model.js';
import { checkBackendName } from '../backend/backends.js';
import type { WeightDType } from '../models/weights.js';
import type { KVDType } from '../graph/ir.js';
import type { Engine, EngineRequest } from './engine.js';
import type { ChatMessage, WireResult, WorkerConfig } from './protocol.js';
import { loadAddon, setThreads } from '../native.js';

const kWorkerNiceStep = 4;

export async function createEngine(config: WorkerConfig): Promise<Engine> {
  // This worker's JavaScript thread (sampling, scheduling steps) yields to the main thread, whose
  // event loop serves the requests: four nice steps below it, the kernels' threads four more.
  loadAddon().lowerThreadPriority(kWorkerNiceStep);
  setThreads(config.threads);
  const backend = checkBackendName(config.backend ?? 'native', 'engine');
  const lm = await LanguageModel.load(config.model, {
    backend, threads: config.threads, batching: config.batching, maxBatchTokens: config.maxBatchTokens,
    ...(config.dtype ? { dtype: config.dtype as WeightDType } : {}),
    ...(config.kvDtype ? { kvDtype: config.kvDtype as KVDType } : {}),
  });
  // Models without a chat template (the default one) get a plain transcript to continue; tools
  // need a template that lists them.
  const render = (messages: ChatMessage[], tools: readonly Record<string, unknown>[] | undefined): string => {
    if (lm.chatTemplate !== undefined) return lm.applyChatTemplate(messages, { addGenerationPrompt: true, ...(tools !== undefined ? { tools } : {}) });
    if (tools !== undefined) throw new TypeError(`'tools': ${config.model ?? 'the model'} has no chat template to pass them to`);
    return `${messages.map((m) => `${m.role}: ${m.content ?? ''}`).join('\n')}\nassistant:`;
  };
  const s2s = lm.seq2seq;
  return {
    kind: s2s ? 'encoder-decoder' : 'decoder',
    ...(s2s ? { info: () => ({ kind: 'encoder-decoder' as const, architecture: s2s.model.config.hfArchitecture }) } : {}),
    async generate(req: EngineRequest): Promise<WireResult> {
      const prompt = req.messages ? render(req.messages, req.tools) : req.prompt;
      // The wire options are LanguageModel's own, checked on the main thread: nothing to map.
      const s = lm.stream(prompt, { ...req.options, signal: req.signal });
      for await (const chunk of s) req.onToken(chunk.token, chunk.text);
      const r = await s.result;
      const finishReason = r.finishReason === 'aborted' ? req.cancelReason() : r.finishReason;
      return {
        text: r.text, ids: r.ids, finishReason, promptTokens: r.timings.promptTokens,
        ...(r.logprobs ? { logprobs: r.logprobs } : {}),
        ...(r.sequences ? { sequences: r.sequences } : {}),
        timings: {
          timeToFirstTokenMs: r.timings.timeToFirstToken * 1000,
          prefillTokensPerSecond: r.timings.prefillTokensPerSecond,
          decodeTokensPerSecond: r.timings.decodeTokensPerSecond,
          totalMs: r.timings.totalSeconds * 1000,
        },
      };
    },
    batchStats: () => (lm.seq2seq ?? lm.model).batchStats,
    kvPagesInUse: () => (lm.seq2seq ?? lm.model).model.states.stats().pagesInUse,
    async dispose() {
      lm.dispose();
    },
  };
}
