// Beam-search bookkeeping with the semantics of Hugging Face's BeamSearchScorer (transformers
// 4.40): candidate selection, finished hypotheses, is_done per earlyStopping. No model, no processors.
//
// Length penalty: a finished hypothesis scores sum_logprobs / generated_len ** lengthPenalty,
// where generated_len counts the new tokens only (the prompt is not counted) and includes the
// end-of-sequence token that finished it; a beam still running at maxNewTokens is scored over
// its new tokens. This is the `generated_len` of transformers >= 4.38 (earlier versions divided
// by the whole sequence's length, prompt included, EOS excluded).

/** HF's early_stopping: true, false or 'never'. */
export type EarlyStopping = boolean | 'never';

/** A finished (or, at the end, still running) hypothesis: its new ids (EOS not included) and score. */
export interface Hypothesis {
  /** (n) generated ids, without the end-of-sequence id that finished it */
  readonly ids: readonly number[];
  /** sum of log-probabilities / generated_len ** lengthPenalty */
  readonly score: number;
  /** whether an end-of-sequence id finished it (false: it reached maxNewTokens) */
  readonly eos: boolean;
}

/** The best numBeams finished hypotheses (HF's BeamHypotheses). */
export class BeamHypotheses {
  private readonly beams: Hypothesis[] = [];
  private worst = 1e9;
  constructor(
    readonly numBeams: number,
    readonly lengthPenalty: number,
    readonly earlyStopping: EarlyStopping,
    /** most new tokens: 'never' with a positive length penalty bounds the best reachable score by it */
    readonly maxNewTokens: number,
  ) {}

  get size(): number {
    return this.beams.length;
  }

  /** Adds a hypothesis of `generatedLen` new tokens whose log-probabilities sum to sumLogprobs. */
  add(ids: readonly number[], sumLogprobs: number, generatedLen: number, eos: boolean): void {
    const score = sumLogprobs / generatedLen ** this.lengthPenalty;
    if (this.beams.length < this.numBeams || score > this.worst) {
      this.beams.push({ ids, score, eos });
      if (this.beams.length > this.numBeams) {
        // Python's sorted() over (score, index): ties go to the earlier index.
        const order = this.beams.map((b, i) => [b.score, i] as const).sort((a, b) => a[0] - b[0] || a[1] - b[1]);
        this.beams.splice(order[0]![1], 1);
        this.worst = order[1]![0];
      } else this.worst = Math.min(score, this.worst);
    }
  }

  /**
   * HF's is_done: whether no running beam can still beat the worst kept hypothesis.
   * bestSumLogprobs: the best candidate's running score this step; curLen: new tokens it would have.
   */
  isDone(bestSumLogprobs: number, curLen: number): boolean {
    if (this.beams.length < this.numBeams) return false;
    if (this.earlyStopping === true) return true;
    const len = this.earlyStopping === 'never' && this.lengthPenalty > 0 ? this.maxNewTokens : curLen;
    return this.worst >= bestSumLogprobs / len ** this.lengthPenalty;
  }

  /** Hypotheses best first; equal scores: the later added first (Python's sorted() then pop()). */
  best(): Hypothesis[] {
    return this.beams.map((b, i) => [b, i] as const).sort((a, b) => b[0].score - a[0].score || b[1] - a[1]).map(([b]) => b);
  }
}

/** One candidate of a step: a beam, a token, and the running sum of log-probabilities it would have. */
export interface Candidate {
  readonly beam: number;
  readonly token: number;
  readonly score: number;
}

/**
 * The top `k` candidates over beams x vocabulary, best first; equal scores: the lower flat index
 * (beam * V + token) first. A candidate's score is rows[b][t] + offsets[b]: beam b's processed
 * log-probability of t plus its running score; rows: beams x (V) f64. -Infinity entries are kept
 * only when nothing better remains; NaN ones never. The reference of the addon's 'topCandidates'.
 */
export function topCandidates(rows: readonly Float64Array[], offsets: readonly number[], k: number): Candidate[] {
  const top: Candidate[] = [];
  let floor = -Infinity; // the k-th best score once k are held
  for (let b = 0; b < rows.length; b++) {
    const row = rows[b]!;
    const off = offsets[b]!;
    for (let t = 0; t < row.length; t++) {
      const s = row[t]! + off;
      if (top.length === k ? !(s > floor) : Number.isNaN(s)) continue;
      // Insert after every candidate with a score >= s (earlier flat index wins ties).
      let i = top.length;
      while (i > 0 && top[i - 1]!.score < s) i--;
      top.splice(i, 0, { beam: b, token: t, score: s });
      if (top.length > k) top.pop();
      if (top.length === k) floor = top[k - 1]!.score;
    }
  }
  return top;
}

/** What a step decided: each running beam's parent, new token and running score. */
export interface StepChoice {
  readonly parents: number[];
  readonly tokens: number[];
  readonly scores: number[];
  /** the search is over (HF's _done for the request) */
  readonly done: boolean;
}

/**
 * HF's BeamSearchScorer.process for one request. candidates: topCandidates of 2 (or
 * 1 + number of EOS ids) x numBeams, best first; beams[b]: beam b's generated ids so far;
 * curLen: new tokens a candidate would have (generated so far + 1).
 */
export function processCandidates(
  hyps: BeamHypotheses, candidates: readonly Candidate[], beams: readonly (readonly number[])[], eos: ReadonlySet<number>, curLen: number,
): StepChoice {
  const n = hyps.numBeams;
  const parents: number[] = [];
  const tokens: number[] = [];
  const scores: number[] = [];
  for (let rank = 0; rank < candidates.length && parents.length < n; rank++) {
    const c = candidates[rank]!;
    if (eos.has(c.token)) {
      // An EOS candidate ranked below numBeams is not a hypothesis (HF's is_beam_token_worse_than_top_num_beams).
      if (rank >= n) continue;
      hyps.add(beams[c.beam]!, c.score, curLen, true);
    } else {
      parents.push(c.beam);
      tokens.push(c.token);
      scores.push(c.score);
    }
  }
  if (parents.length < n) throw new RangeError(`beam search: fewer than numBeams (${n}) tokens remain possible at a step; lower 'numBeams' or loosen the bans`);
  const best = candidates.length > 0 ? candidates[0]!.score : -Infinity;
  return { parents, tokens, scores, done: hyps.isDone(best, curLen) };
}
