// Beam search from text: LanguageModel.generate / stream and the pool's workers with numBeams > 1.
// The search runs to the end first; the stream then emits the best hypothesis, final, token by
// token. Not the search itself (beam-search.ts) nor sampling (generate.ts).

import { beamSearch, beamSettings, type BeamStepper } from './beam-search.js';
import { CausalLMBeams, isBeamCausalLM } from './beam-steppers.js';
import type { CheckedGenerateOptions } from './options.js';
import { GeneratedText } from './text.js';
import type { CausalLM, FinishReason, GenerationChunk, GenerationResult, TextTokenizer } from './generate.js';

/** One sequence of a search, as text. */
export interface TextSequence {
  text: string;
  /** generated ids (the end-of-sequence id that finished it excluded) */
  ids: number[];
  /** beams: sum of log-probabilities / newTokens ** lengthPenalty; sampled (sample-n.ts): sum of the tokens' log-probabilities under the model's raw distribution */
  score: number;
  /** beams: 'eos' or 'length'; sampled sequences may also end at a stop string or an abort */
  finishReason: 'eos' | 'length' | 'stop' | 'aborted';
}

/**
 * Runs a search over an already checked request (prompt ids, options, processors' ids) and yields
 * the best sequence's tokens once it is final; `sequences` holds the numReturnSequences best.
 */
export async function* beamTokens(
  model: CausalLM, tokenizer: TextTokenizer, promptIds: readonly number[], options: CheckedGenerateOptions, seed: number, t0: number,
): AsyncGenerator<GenerationChunk, GenerationResult> {
  if (!isBeamCausalLM(model)) throw new TypeError("'numBeams' > 1 needs a model whose caches fork and reorder (DecoderLM)");
  const s = beamSettings(options);
  if (promptIds.length + Math.max(0, s.maxNewTokens - 1) > model.contextLength)
    throw new RangeError(`'prompt' of ${promptIds.length} tokens + 'maxTokens' ${s.maxNewTokens} exceed the model's context of ${model.contextLength}`);
  let finish: FinishReason = 'length';
  let sequences: TextSequence[] = [];
  let tSearch = NaN;
  try {
    const beams = new CausalLMBeams(model);
    // An encoder-decoder's first forward takes the input; the search (and its processors) runs from its decoder start.
    const lead = model.decoderPrompt?.(promptIds);
    const stepper: BeamStepper = lead
      ? { vocabSize: beams.vocabSize, start: (_p, n) => beams.start(Int32Array.from(promptIds), n), step: (p, t) => beams.step(p, t), dispose: () => beams.dispose() }
      : beams;
    const r = await beamSearch(stepper, lead ?? promptIds, options, options.eosTokenIds ?? model.eosTokenIds);
    tSearch = performance.now();
    sequences = r.sequences.map((q) => ({ text: tokenizer.decode(q.ids), ids: [...q.ids], score: q.score, finishReason: q.eos ? 'eos' : 'length' }));
    finish = sequences[0]!.finishReason;
  } catch (e) {
    if (!options.signal?.aborted) throw e;
    finish = 'aborted';
  }
  const best = sequences[0];
  const text = new GeneratedText(tokenizer, []);
  for (const id of best?.ids ?? []) {
    const step = text.push(id);
    yield { token: id, text: step.delta };
  }
  const rest = text.flush();
  if (rest.length > 0 && best && best.ids.length > 0) yield { token: best.ids[best.ids.length - 1]!, text: rest };
  const tEnd = performance.now();
  const n = best?.ids.length ?? 0;
  return {
    text: best?.text ?? '',
    ids: best?.ids ?? [],
    finishReason: finish,
    seed,
    timings: {
      promptTokens: promptIds.length,
      generatedTokens: n,
      // The first token is known only when the search is over.
      timeToFirstToken: Number.isNaN(tSearch) ? NaN : (tSearch - t0) / 1000,
      prefillTokensPerSecond: NaN,
      decodeTokensPerSecond: NaN,
      totalSeconds: (tEnd - t0) / 1000,
    },
    sequences,
  };
}
