// The generation loop: batched prefill, then one token per step on the request's KV cache, with
// stop rules, streaming text, abort and timings. Not a model: it drives any CausalLM below.

import { Rng, randomSeed } from './rng.js';
import { validateGenerateOptions, type CheckedGenerateOptions, type GenerateOptions } from './options.js';
import { buildProcessors, sampleNextAsync } from './sampler.js';
import { GeneratedText } from './text.js';
import { MinNewTokens } from './processors.js';
import { beamTokens, type TextSequence } from './beam-text.js';
import { sampleSequences } from './sample-n.js';

export type { GenerateOptions } from './options.js';

/** A request's key/value cache; the loop frees it when the request ends, however it ends. */
export interface KVCache {
  /** positions held */
  readonly length: number;
  readonly disposed: boolean;
  dispose(): void;
}

/** What the loop needs from a decoder-only model. */
export interface CausalLM {
  readonly vocabSize: number;
  /** Ids a prompt may hold when they differ from the generated ones (an encoder's own vocabulary); default vocabSize. */
  readonly promptVocabSize?: number;
  /** most positions one cache can hold */
  readonly contextLength: number;
  /** end-of-sequence ids (generation_config.json's eos_token_id, or the checkpoint's) */
  readonly eosTokenIds: readonly number[];
  newCache(): KVCache;
  /**
   * Appends `ids` at positions cache.length.. and returns the logits of the last one.
   * ids: (T) i32 -> (vocabSize) f32
   */
  forward(ids: Int32Array, cache: KVCache): Promise<Float32Array>;
  /**
   * The ids the generated tokens follow, as logits processors (repetition, n-gram bans) see them;
   * default the prompt. An encoder-decoder's prompt is its encoder's input, its decoder starts
   * from the start token (Seq2SeqLM).
   */
  decoderPrompt?(promptIds: readonly number[]): number[];
}

/** What the loop needs from a tokenizer. */
export interface TextTokenizer {
  /** `addSpecialTokens: false` (bad words): only the text's own ids, without BOS / EOS around them. */
  encode(text: string, options?: { addSpecialTokens?: boolean }): number[];
  decode(ids: readonly number[]): string;
}

export type FinishReason = 'length' | 'eos' | 'stop' | 'aborted';

export interface GenerationTimings {
  promptTokens: number;
  generatedTokens: number;
  /** seconds from the call to the first sampled token */
  timeToFirstToken: number;
  prefillTokensPerSecond: number;
  /** tokens after the first, per second of decode steps */
  decodeTokensPerSecond: number;
  totalSeconds: number;
}

export interface GenerationResult {
  text: string;
  /** generated ids (an end-of-sequence id that ended generation is not included) */
  ids: number[];
  finishReason: FinishReason;
  seed: number;
  timings: GenerationTimings;
  /** per generated id, when options.logprobs was set */
  logprobs?: number[];
  /**
   * With numReturnSequences > 1: with numBeams > 1 the best sequences, best first; without beams the
   * sampled sequences in order (text, ids above are the first's).
   */
  sequences?: TextSequence[];
}

export interface GenerationChunk {
  token: number;
  /** text released by this token (may be empty while a character or stop string is incomplete) */
  text: string;
}

const DEFAULT_MAX_TOKENS = 64;

/** The shared checks, then the one that needs the model: its vocabulary. */
function validate(options: GenerateOptions, model: CausalLM): CheckedGenerateOptions {
  const o = validateGenerateOptions(options);
  for (const id of o.eosTokenIds ?? [])
    if (id >= model.vocabSize) throw new RangeError(`'eosTokenIds' entries must be ids in [0, ${model.vocabSize}), got ${String(id)}`);
  return o;
}

/**
 * Runs one request. Yields a chunk per generated token and returns the result; the KV cache is
 * created here and always disposed before it returns or throws.
 */
export async function* generateTokens(
  model: CausalLM, tokenizer: TextTokenizer, prompt: string | readonly number[], userOptions: GenerateOptions = {},
): AsyncGenerator<GenerationChunk, GenerationResult> {
  const options = validate(userOptions, model);
  const t0 = performance.now();
  if (typeof prompt !== 'string' && !Array.isArray(prompt)) throw new TypeError("'prompt' must be a string or an array of token ids");
  const promptIds = typeof prompt === 'string' ? tokenizer.encode(prompt) : [...prompt];
  if (promptIds.length === 0) throw new RangeError("'prompt' must encode to at least one token");
  const promptVocab = model.promptVocabSize ?? model.vocabSize;
  for (const id of promptIds)
    if (!Number.isInteger(id) || id < 0 || id >= promptVocab) throw new RangeError(`'prompt' ids must be in [0, ${promptVocab}), got ${String(id)}`);
  if (promptIds.length > model.contextLength)
    throw new RangeError(`'prompt' has ${promptIds.length} tokens but the model's context holds ${model.contextLength}`);
  // A word is spelled by different ids at the start of text and after a space: ban both spellings.
  // Without special tokens (HF's bad_words_ids advice): a ban ending in BART's or T5's </s> would
  // never match the word itself.
  const badWordIds = [...(options.badWordIds ?? [])];
  const wordIds = (w: string) => tokenizer.encode(w, { addSpecialTokens: false });
  for (const w of options.badWords ?? []) {
    badWordIds.push(wordIds(w));
    if (!w.startsWith(' ')) badWordIds.push(wordIds(' ' + w));
  }
  const seed = options.seed ?? randomSeed();
  if ((options.numBeams ?? 1) > 1) return yield* beamTokens(model, tokenizer, promptIds, { ...options, badWordIds }, seed, t0);
  // Several sequences without beams: sampled, sharing the prompt's pass (HF's num_return_sequences with do_sample).
  if ((options.numReturnSequences ?? 1) > 1) return yield* sampleSequences(model, tokenizer, promptIds, { ...options, badWordIds }, seed, t0, options.maxTokens ?? DEFAULT_MAX_TOKENS);
  const eos = new Set(options.ignoreEos ? [] : options.eosTokenIds ?? model.eosTokenIds);
  const minNew = options.minNewTokens ?? 0;
  const processors = minNew > 0 ? [...(options.processors ?? []), new MinNewTokens(minNew, [...eos])] : options.processors;
  const chain = buildProcessors({ ...options, badWordIds, ...(processors ? { processors } : {}) }, model.vocabSize);
  const rng = new Rng(seed);
  const maxTokens = options.maxTokens ?? DEFAULT_MAX_TOKENS;
  const text = new GeneratedText(tokenizer, options.stop ?? []);
  const signal = options.signal;
  const lead = model.decoderPrompt?.(promptIds) ?? promptIds;
  const ids = [...lead];
  const out: number[] = [];
  const logprobs: number[] = [];
  let finish: FinishReason = 'length';
  let tFirst = NaN;
  let prefillSeconds = NaN;
  let tDecodeStart = NaN;
  let final: string | undefined;

  const cache = model.newCache();
  try {
    if (signal?.aborted) finish = 'aborted';
    else if (maxTokens > 0) {
      let logits = await model.forward(Int32Array.from(promptIds), cache);
      prefillSeconds = (performance.now() - t0) / 1000;
      for (;;) {
        if (signal?.aborted) {
          finish = 'aborted';
          break;
        }
        const tok = await sampleNextAsync(logits, chain, { ids, promptLength: lead.length }, rng, options.logprobs === true);
        if (out.length === 0) {
          tFirst = performance.now();
          tDecodeStart = tFirst;
        }
        if (eos.has(tok.id)) {
          finish = 'eos';
          break;
        }
        ids.push(tok.id);
        out.push(tok.id);
        if (options.logprobs) logprobs.push(tok.logprob);
        const step = text.push(tok.id);
        yield { token: tok.id, text: step.delta };
        if (step.stopped !== undefined) {
          final = step.stopped;
          finish = 'stop';
          break;
        }
        if (out.length >= maxTokens || cache.length >= model.contextLength) break;
        logits = await model.forward(Int32Array.of(tok.id), cache);
      }
    }
  } finally {
    cache.dispose();
  }
  if (final === undefined) {
    const rest = text.flush();
    if (rest.length > 0 && out.length > 0) yield { token: out[out.length - 1]!, text: rest };
    final = text.output;
  }
  const tEnd = performance.now();
  const decodeSteps = Math.max(0, out.length - 1);
  const result: GenerationResult = {
    text: final,
    ids: out,
    finishReason: finish,
    seed,
    timings: {
      promptTokens: promptIds.length,
      generatedTokens: out.length,
      timeToFirstToken: Number.isNaN(tFirst) ? NaN : (tFirst - t0) / 1000,
      prefillTokensPerSecond: promptIds.length / prefillSeconds,
      decodeTokensPerSecond: decodeSteps > 0 ? decodeSteps / ((tEnd - tDecodeStart) / 1000) : NaN,
      totalSeconds: (tEnd - t0) / 1000,
    },
  };
  if (options.logprobs) result.logprobs = logprobs;
  return result;
}

/** Runs a request to completion. */
export async function generate(model: CausalLM, tokenizer: TextTokenizer, prompt: string | readonly number[], options: GenerateOptions = {}): Promise<GenerationResult> {
  const it = generateTokens(model, tokenizer, prompt, options);
  for (;;) {
    const r = await it.next();
    if (r.done) return r.value;
  }
}

/** An AsyncIterable of chunks whose `result` settles when the iteration ends. */
export interface GenerationStream extends AsyncIterable<GenerationChunk> {
  readonly result: Promise<GenerationResult>;
}

/**
 * Streams a request; iterate once. Breaking out of the loop aborts the request: its cache is freed
 * and `result` settles with finishReason 'aborted'. Bad options throw here, before any work.
 */
export function stream(model: CausalLM, tokenizer: TextTokenizer, prompt: string | readonly number[], userOptions: GenerateOptions = {}): GenerationStream {
  const options = validateGenerateOptions(userOptions);
  let resolve!: (r: GenerationResult) => void;
  let reject!: (e: unknown) => void;
  const result = new Promise<GenerationResult>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  // Unobserved results must not become unhandled rejections; callers awaiting it still see the error.
  result.catch(() => undefined);
  let started = false;
  return {
    result,
    async *[Symbol.asyncIterator]() {
      if (started) throw new Error('stream: a generation stream can be iterated only once');
      started = true;
      const stop = new AbortController();
      const signal = options.signal ? AbortSignal.any([options.signal, stop.signal]) : stop.signal;
      const it = generateTokens(model, tokenizer, prompt, { ...options, signal });
      try {
        for (;;) {
          const r = await it.next();
          if (r.done) {
            resolve(r.value);
            return;
          }
          yield r.value;
        }
      } catch (e) {
        reject(e);
        throw e;
      } finally {
        // Reached without a result only on an early break: finish the request as aborted.
        stop.abort();
        for (;;) {
          const r = await it.next().catch((e: unknown) => {
            reject(e);
            return { done: true as const, value: undefined };
          });
          if (r.done) {
            if (r.value) resolve(r.value);
            break;
          }
        }
      }
    },
  };
}
