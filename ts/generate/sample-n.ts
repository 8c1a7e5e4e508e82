// Several sampled sequences for one request (numReturnSequences > 1 without beams, the server's
// `n`): the prompt runs once (an encoder-decoder's encoder pass and cross-attention K/V included),
// the other sequences fork that cache copy-on-write, and each step's forwards are issued together
// so the model's batcher runs them as one pass. Not beam search (beam-text.ts) nor the
// one-sequence loop (generate.ts).

import type { TextSequence } from './beam-text.js';
import { isBeamCausalLM } from './beam-steppers.js';
import type { CausalLM, FinishReason, GenerationChunk, GenerationResult, KVCache, TextTokenizer } from './generate.js';
import type { CheckedGenerateOptions } from './options.js';
import { MinNewTokens } from './processors.js';
import { Rng } from './rng.js';
import { buildProcessors, sampleNextAsync } from './sampler.js';
import { GeneratedText } from './text.js';

interface Sequence {
  cache: KVCache;
  /** the lead (prompt or decoder start) and the generated ids */
  ids: number[];
  out: number[];
  logprobs: number[];
  text: GeneratedText;
  final: string | undefined;
  finish: FinishReason | undefined;
  score: number;
  logits: Float32Array | undefined;
}

/**
 * Samples `numReturnSequences` sequences from one prompt and yields the first sequence's tokens as
 * they come; the result is the first sequence's, with all of them (in sampling order) in `sequences`,
 * each scored by the sum of its tokens' log-probabilities under the model's raw distribution (the
 * logprobs option's numbers).
 * One Rng draws for every sequence in turn, so a seed fixes all of them.
 */
export async function* sampleSequences(
  model: CausalLM, tokenizer: TextTokenizer, promptIds: readonly number[], options: CheckedGenerateOptions, seed: number, t0: number,
  maxTokens: number,
): AsyncGenerator<GenerationChunk, GenerationResult> {
  const n = options.numReturnSequences ?? 1;
  if (!isBeamCausalLM(model)) throw new TypeError("'numReturnSequences' > 1 needs a model whose caches fork (DecoderLM, an encoder-decoder)");
  if (options.temperature === 0)
    throw new RangeError(`'numReturnSequences' = ${n} without beams samples ${n} sequences; with 'temperature' 0 (greedy) they would all be the same: set 'temperature' > 0, or 'numBeams' >= ${n}`);
  if (promptIds.length > model.contextLength) throw new RangeError(`'prompt' has ${promptIds.length} tokens but the model's context holds ${model.contextLength}`);
  const eos = new Set(options.ignoreEos ? [] : options.eosTokenIds ?? model.eosTokenIds);
  const minNew = options.minNewTokens ?? 0;
  const processors = minNew > 0 ? [...(options.processors ?? []), new MinNewTokens(minNew, [...eos])] : options.processors;
  const chain = buildProcessors({ ...options, ...(processors ? { processors } : {}) }, model.vocabSize);
  const rng = new Rng(seed);
  const signal = options.signal;
  const lead = model.decoderPrompt?.(promptIds) ?? promptIds;
  const seqs: Sequence[] = [];
  let tFirst = NaN;
  let prefillSeconds = NaN;
  let aborted = false;
  try {
    const root = model.newCache();
    const fresh = (cache: KVCache): Sequence => ({
      cache, ids: [...lead], out: [], logprobs: [], text: new GeneratedText(tokenizer, options.stop ?? []), final: undefined, finish: undefined, score: 0, logits: undefined,
    });
    seqs.push(fresh(root));
    if (signal?.aborted) aborted = true;
    else if (maxTokens > 0) {
      // The prompt once; the others fork its rows (the encoder output and cross K/V of an encoder-decoder too).
      const first = await model.forward(Int32Array.from(promptIds), root);
      prefillSeconds = (performance.now() - t0) / 1000;
      for (let i = 1; i < n; i++) seqs.push(fresh(model.forkCache(root)));
      // Each its own copy: nothing downstream may see another sequence's scores.
      seqs.forEach((s, i) => { s.logits = i === 0 ? first : first.slice(); });
      for (;;) {
        if (signal?.aborted) { aborted = true; break; }
        const live = seqs.filter((s) => s.finish === undefined);
        if (live.length === 0) break;
        const next: { s: Sequence; id: number }[] = [];
        for (const s of live) {
          const tok = await sampleNextAsync(s.logits!, chain, { ids: s.ids, promptLength: lead.length }, rng, true);
          if (Number.isNaN(tFirst)) tFirst = performance.now();
          if (eos.has(tok.id)) { s.finish = 'eos'; continue; }
          s.ids.push(tok.id);
          s.out.push(tok.id);
          s.logprobs.push(tok.logprob);
          s.score += tok.logprob;
          const step = s.text.push(tok.id);
          if (s === seqs[0]) yield { token: tok.id, text: step.delta };
          if (step.stopped !== undefined) { s.final = step.stopped; s.finish = 'stop'; continue; }
          if (s.out.length >= maxTokens || s.cache.length >= model.contextLength) { s.finish = 'length'; continue; }
          next.push({ s, id: tok.id });
        }
        // Issued together: the batcher runs them in one decoder pass.
        const out = await Promise.all(next.map(({ s, id }) => model.forward(Int32Array.of(id), s.cache)));
        next.forEach(({ s }, k) => { s.logits = out[k]; });
      }
    }
  } finally {
    for (const s of seqs) if (!s.cache.disposed) s.cache.dispose();
  }
  for (const s of seqs) {
    if (s.finish === undefined) s.finish = aborted ? 'aborted' : 'length';
    if (s.final === undefined) {
      const rest = s.text.flush();
      if (s === seqs[0] && rest.length > 0 && s.out.length > 0) yield { token: s.out[s.out.length - 1]!, text: rest };
      s.final = s.text.output;
    }
  }
  // Sequences that never started (aborted before the prompt ran) are reported empty.
  while (seqs.length < n) seqs.push({ ...seqs[0]!, out: [], logprobs: [], final: '', finish: 'aborted', score: 0 });
  const tEnd = performance.now();
  const best = seqs[0]!;
  const sequences: TextSequence[] = seqs.map((s) => ({ text: s.final!, ids: s.out, score: s.score, finishReason: s.finish! }));
  const generated = best.out.length;
  // Every sequence's tokens after its first, per second from the first sampled token.
  const later = seqs.reduce((a, s) => a + Math.max(0, s.out.length - 1), 0);
  const decodeSeconds = (tEnd - tFirst) / 1000;
  const result: GenerationResult = {
    text: best.final!,
    ids: best.out,
    finishReason: best.finish!,
    seed,
    timings: {
      promptTokens: promptIds.length,
      generatedTokens: generated,
      timeToFirstToken: Number.isNaN(tFirst) ? NaN : (tFirst - t0) / 1000,
      prefillTokensPerSecond: promptIds.length / prefillSeconds,
      decodeTokensPerSecond: later > 0 && decodeSeconds > 0 ? later / decodeSeconds : NaN,
      totalSeconds: (tEnd - t0) / 1000,
    },
    sequences,
  };
  if (options.logprobs) result.logprobs = best.logprobs;
  return result;
}
