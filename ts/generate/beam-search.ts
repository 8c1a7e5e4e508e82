// Beam search over any model that steps a batch of beams (BeamStepper): decoder-only models now,
// encoder-decoder models through the same interface. Not the scorer's bookkeeping (beam-scorer.ts).
//
// Per step, as Hugging Face's _beam_search: log-softmax of each beam's last logits, the logits
// processors over those log-probabilities (repetition penalties, logit bias, no-repeat n-grams, bad
// words, minNewTokens keeping EOS off, forced tokens), plus the beam's running score; the top
// max(2, 1 + #EOS) x numBeams candidates over beams x vocabulary; BeamSearchScorer.process; then one
// forward pass for all beams, whose states were reordered by their parents (page tables move).

import {
  BadWords, ForcedTokens, LogitBias, MinNewTokens, NoRepeatNGram, PresenceFrequencyPenalty, RepetitionPenalty, type LogitsProcessor,
} from './processors.js';
import { BeamHypotheses, processCandidates, topCandidates, type Candidate, type EarlyStopping, type Hypothesis } from './beam-scorer.js';
import type { CheckedGenerateOptions } from './options.js';
import { runQueued, type NativeOpCall } from './native-sampler.js';
import { addonWithOps } from './sampler.js';
import type { NativeAddon } from '../native.js';

/**
 * What beam search needs from a model: the beams of one request stepped together. An
 * encoder-decoder model implements it over its decoder (start() runs the encoder and the decoder
 * start token); a decoder-only model over its paged KV caches.
 */
export interface BeamStepper {
  readonly vocabSize: number;
  /** Runs the prompt once; every one of `beams` beams starts as a copy of its state. Returns its last logits, (V) f32. */
  start(prompt: Int32Array, beams: number): Promise<Float32Array>;
  /**
   * Beam i takes the state beam parents[i] had, then appends tokens[i]; all beams in one pass.
   * Returns each beam's logits, beams x (V) f32.
   */
  step(parents: readonly number[], tokens: readonly number[]): Promise<Float32Array[]>;
  /** Frees every beam's state. */
  dispose(): void;
}

/** One returned sequence. */
export interface ScoredSequence extends Hypothesis {}

export interface BeamSearchResult {
  /** best first: numReturnSequences of them */
  sequences: ScoredSequence[];
  /** decode steps run (forward passes after the prompt's) */
  steps: number;
}

/** The settings beamSearch reads, with their defaults filled in. */
interface Settings {
  numBeams: number;
  numReturnSequences: number;
  lengthPenalty: number;
  earlyStopping: EarlyStopping;
  maxNewTokens: number;
  minNewTokens: number;
  temperature: number;
}

/** Default most new tokens of a search (the generation loop's default). */
export const DEFAULT_BEAM_MAX_TOKENS = 64;

/** Options beam search cannot honour, each with the reason (passing one with numBeams > 1 is a TypeError). */
const NOT_WITH_BEAMS: readonly [keyof CheckedGenerateOptions, (v: unknown) => boolean, string][] = [
  ['topK', (v) => v !== 0, 'beam search keeps the best candidates, it does not sample'],
  ['topP', (v) => v !== 1, 'beam search keeps the best candidates, it does not sample'],
  ['minP', (v) => v !== 0, 'beam search keeps the best candidates, it does not sample'],
  ['typicalP', (v) => v !== 1, 'beam search keeps the best candidates, it does not sample'],
  ['stop', (v) => Array.isArray(v) && v.length > 0, 'stop strings end a sampled stream; beams end at EOS or maxTokens'],
  ['logprobs', (v) => v === true, "each sequence's score is its summed log-probability"],
];

/** Cross-option checks of a search; the options were validated one by one already. */
export function beamSettings(o: CheckedGenerateOptions): Settings {
  const numBeams = o.numBeams ?? 1;
  const numReturnSequences = o.numReturnSequences ?? 1;
  if (numReturnSequences > numBeams) throw new RangeError(`'numReturnSequences' must be at most 'numBeams' (${numBeams}), got ${numReturnSequences}`);
  if (numBeams > 1)
    for (const [name, set, why] of NOT_WITH_BEAMS) if (o[name] !== undefined && set(o[name])) throw new TypeError(`'${name}' is not accepted with 'numBeams' > 1: ${why}`);
  const maxNewTokens = o.maxTokens ?? DEFAULT_BEAM_MAX_TOKENS;
  const minNewTokens = o.minNewTokens ?? 0;
  if (minNewTokens > maxNewTokens) throw new RangeError(`'minNewTokens' (${minNewTokens}) must be at most 'maxTokens' (${maxNewTokens})`);
  return {
    numBeams, numReturnSequences, lengthPenalty: o.lengthPenalty ?? 1, earlyStopping: o.earlyStopping ?? false, maxNewTokens, minNewTokens,
    temperature: o.temperature ?? 1,
  };
}

/** The processors of a search, in HF's order, over log-probabilities. */
function searchProcessors(o: CheckedGenerateOptions, s: Settings, eos: readonly number[], vocabSize: number): LogitsProcessor[] {
  const list: LogitsProcessor[] = [];
  if (o.repetitionPenalty !== undefined && o.repetitionPenalty !== 1) list.push(new RepetitionPenalty(o.repetitionPenalty));
  if ((o.presencePenalty ?? 0) !== 0 || (o.frequencyPenalty ?? 0) !== 0) list.push(new PresenceFrequencyPenalty(o.presencePenalty ?? 0, o.frequencyPenalty ?? 0));
  if (o.logitBias !== undefined) list.push(new LogitBias(o.logitBias, vocabSize));
  if (o.noRepeatNgramSize !== undefined && o.noRepeatNgramSize !== 0) list.push(new NoRepeatNGram(o.noRepeatNgramSize));
  if (o.badWordIds !== undefined && o.badWordIds.length > 0) list.push(new BadWords(o.badWordIds, vocabSize));
  if (s.minNewTokens > 0) list.push(new MinNewTokens(s.minNewTokens, eos));
  if (o.processors) list.push(...o.processors);
  if (o.forcedTokens !== undefined) list.push(new ForcedTokens(o.forcedTokens, vocabSize));
  return list;
}

/**
 * log_softmax(logits / T) in f64, then the processors: one beam's scores of a step, (V) f64.
 * T = 0 or 1 leaves the logits as they are (a deterministic search has nothing to sharpen).
 * The reference of the addon's 'logSoftmax' op, which stepCandidates runs where it is built.
 */
export function logProbs(logits: Float32Array, temperature: number, processors: readonly LogitsProcessor[], ids: readonly number[], promptLength: number): Float64Array {
  const inv = temperature === 0 ? 1 : 1 / temperature;
  const out = new Float64Array(logits.length);
  let max = -Infinity;
  for (let i = 0; i < logits.length; i++) {
    const v = logits[i]! * inv;
    if (Number.isNaN(v)) throw new RangeError(`beam search: the model returned NaN for token ${i}`);
    out[i] = v;
    if (v > max) max = v;
  }
  let sum = 0;
  for (let i = 0; i < out.length; i++) sum += Math.exp(out[i]! - max);
  const lse = max + Math.log(sum);
  for (let i = 0; i < out.length; i++) out[i] = out[i]! - lse;
  const ctx = { ids, promptLength };
  for (const p of processors) p.process(out, ctx);
  return out;
}

/** One step of a search: each beam's last logits, what its processors read, and what to keep. */
export interface StepInput {
  /** beams x (V) f32 */
  logits: readonly Float32Array[];
  temperature: number;
  processors: readonly LogitsProcessor[];
  /** each beam's ids so far (prompt first), read only when there are processors */
  ids: (beam: number) => readonly number[];
  promptLength: number;
  /** each beam's running score */
  offsets: readonly number[];
  keep: number;
}

/** The addon when it has the beam ops (a binary built before them has neither). */
export const beamAddon = (): NativeAddon | null => addonWithOps('logSoftmax', 'topCandidates');

/**
 * The step's top `keep` candidates over beams x vocabulary (topCandidates of logProbs rows). With
 * the addon, the vocabulary-wide passes (the NaN check, log-softmax, the top-k) run in its async
 * work, off the caller's thread, queued with the other requests' sampling (runQueued) so that
 * the step batcher still joins their next passes; only processors, which are JavaScript, run here.
 * Without it (addon null), logProbs and topCandidates here. Both give the same candidates, their
 * scores within a few ulp: the same formulas, but the addon's exponentials are its own and its
 * sums go in lanes (tested against each other). `scratch`: the search's buffers, kept between steps.
 */
export async function stepCandidates(step: StepInput, addon: NativeAddon | null, scratch = new StepScratch()): Promise<Candidate[]> {
  const { logits, temperature, processors, promptLength, offsets, keep } = step;
  if (addon === null) {
    const rows = logits.map((l, i) => logProbs(l, temperature, processors, processors.length > 0 ? step.ids(i) : [], promptLength));
    return topCandidates(rows, offsets, keep);
  }
  const beams = logits.length;
  const vocab = logits[0]!.length;
  const m = scratch.sized(beams, vocab, keep);
  logits.forEach((r, i) => {
    if (r.length !== vocab) throw new RangeError(`beam search: beam ${i}'s logits have ${r.length} entries, beam 0's ${vocab}`);
    m.x.set(r, i * vocab);
  });
  m.offsets.set(offsets);
  const soft: NativeOpCall = {
    op: 'logSoftmax',
    args: { x: { dtype: 'f32', shape: [beams, vocab], data: m.x }, scale: temperature === 0 ? 1 : 1 / temperature, out: m.rows, outNanAt: m.nanAt },
  };
  const top: NativeOpCall = { op: 'topCandidates', args: { beams, vocab, rows: m.rows, offsets: m.offsets, k: keep, out: m.out, outCount: m.count } };
  const nan = () => {
    for (let b = 0; b < beams; b++) if (m.nanAt[b]! >= 0) throw new RangeError(`beam search: the model returned NaN for token ${m.nanAt[b]!}`);
  };
  if (processors.length === 0) {
    await runQueued(addon, [soft, top]);
    nan();
  } else {
    await runQueued(addon, [soft]);
    nan();
    for (let b = 0; b < beams; b++) {
      const row = m.rows.subarray(b * vocab, (b + 1) * vocab);
      const ctx = { ids: step.ids(b), promptLength };
      for (const p of processors) p.process(row, ctx);
    }
    await runQueued(addon, [top]);
  }
  const found: Candidate[] = [];
  for (let i = 0; i < m.count[0]!; i++) found.push({ beam: m.out[3 * i]!, token: m.out[3 * i + 1]!, score: m.out[3 * i + 2]! });
  return found;
}

/**
 * One search's buffers for its steps' ops, kept from step to step (a new megabyte per step costs
 * its page faults), over SharedArrayBuffers: memory that cannot be detached, which async ops use
 * in place instead of copying in and out. One search steps one at a time, so they are never
 * shared by two ops in flight.
 */
export class StepScratch {
  private key = '';
  private bufs?: { x: Float32Array; rows: Float64Array; nanAt: Float64Array; offsets: Float64Array; out: Float64Array; count: Float64Array };

  sized(beams: number, vocab: number, keep: number): NonNullable<StepScratch['bufs']> {
    const key = `${beams}x${vocab}/${keep}`;
    if (this.bufs === undefined || key !== this.key) {
      const f64 = (n: number) => new Float64Array(new SharedArrayBuffer(8 * n));
      this.bufs = {
        x: new Float32Array(new SharedArrayBuffer(4 * beams * vocab)), rows: f64(beams * vocab), nanAt: f64(beams), offsets: f64(beams),
        out: f64(3 * keep), count: f64(1),
      };
      this.key = key;
    }
    return this.bufs;
  }
}

/**
 * Beam search (numBeams > 1) or greedy search (numBeams 1) of one prompt. The stepper's states
 * are disposed before it returns or throws. An aborted signal rejects with its reason before
 * the next pass (a pass in flight finishes first; no further pass starts).
 */
export async function beamSearch(
  stepper: BeamStepper, prompt: readonly number[], o: CheckedGenerateOptions, eosIds: readonly number[],
): Promise<BeamSearchResult> {
  const s = beamSettings(o);
  const signal = o.signal;
  const eos = new Set(o.ignoreEos ? [] : eosIds);
  const processors = searchProcessors(o, s, [...eos], stepper.vocabSize);
  const nb = s.numBeams;
  const addon = beamAddon();
  const scratch = new StepScratch();
  try {
    signal?.throwIfAborted();
    if (s.maxNewTokens === 0) return { sequences: Array.from({ length: s.numReturnSequences }, () => ({ ids: [], score: 0, eos: false })), steps: 0 };
    const first = await stepper.start(Int32Array.from(prompt), nb);
    if (nb === 1) return await greedy(stepper, prompt, first, s, processors, eos, signal, addon, scratch);
    const hyps = new BeamHypotheses(nb, s.lengthPenalty, s.earlyStopping, s.maxNewTokens);
    // HF starts every beam but the first at -1e9, so the first step draws only from beam 0.
    let scores: number[] = Array.from({ length: nb }, (_, i) => (i === 0 ? 0 : -1e9));
    let beams: number[][] = Array.from({ length: nb }, () => []);
    let logits: Float32Array[] = Array.from({ length: nb }, () => first);
    const keep = Math.max(2, 1 + eos.size) * nb;
    let steps = 0;
    let done = false;
    for (let gen = 0; ; ) {
      signal?.throwIfAborted();
      const held = beams;
      const step = { logits, temperature: s.temperature, processors, ids: (b: number) => [...prompt, ...held[b]!], promptLength: prompt.length, offsets: scores, keep };
      const choice = processCandidates(hyps, await stepCandidates(step, addon, scratch), beams, eos, gen + 1);
      beams = choice.parents.map((p, i) => [...beams[p]!, choice.tokens[i]!]);
      scores = choice.scores;
      gen++;
      done = choice.done;
      if (done || gen >= s.maxNewTokens) break;
      signal?.throwIfAborted();
      logits = await stepper.step(choice.parents, choice.tokens);
      steps++;
    }
    // HF's finalize: beams still running join the hypotheses with their running scores.
    if (!done) beams.forEach((b, i) => hyps.add(b, scores[i]!, b.length, false));
    return { sequences: hyps.best().slice(0, s.numReturnSequences), steps };
  } finally {
    stepper.dispose();
  }
}

/** numBeams 1: the arg-max token each step (lower id on ties), ending at EOS or maxNewTokens. */
async function greedy(
  stepper: BeamStepper, prompt: readonly number[], first: Float32Array, s: Settings, processors: readonly LogitsProcessor[], eos: ReadonlySet<number>,
  signal: AbortSignal | undefined, addon: NativeAddon | null, scratch: StepScratch,
): Promise<BeamSearchResult> {
  const ids: number[] = [];
  let logits = first;
  let sum = 0;
  let steps = 0;
  for (;;) {
    signal?.throwIfAborted();
    // The arg-max is the top candidate of one beam: the lower id on ties; -inf only when every token is.
    const step = { logits: [logits], temperature: s.temperature, processors, ids: () => [...prompt, ...ids], promptLength: prompt.length, offsets: [0], keep: 1 };
    const top = (await stepCandidates(step, addon, scratch))[0];
    if (top === undefined || top.score === -Infinity) throw new RangeError('beam search: the logits processors removed every token');
    const best = top.token;
    sum += top.score;
    if (eos.has(best)) return { sequences: [{ ids, score: sum / (ids.length + 1) ** s.lengthPenalty, eos: true }], steps };
    ids.push(best);
    if (ids.length >= s.maxNewTokens) return { sequences: [{ ids, score: sum / ids.length ** s.lengthPenalty, eos: false }], steps };
    signal?.throwIfAborted();
    logits = (await stepper.step([0], [best]))[0]!;
    steps++;
  }
}
