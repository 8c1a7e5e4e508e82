// Logits processors: small classes, each with one job, chained in order over one step's scores.
// Not the sampler (sampler.ts draws the token) and not the loop (generate.ts); no model knowledge.

/** What a processor may look at besides the scores: every id so far and how many were the prompt. */
export interface ProcessContext {
  /** prompt ids followed by generated ids */
  readonly ids: readonly number[];
  readonly promptLength: number;
}

/**
 * Rewrites one step's scores in place. Scores are f64 logits (vocabSize); -Infinity removes a
 * token. Processors after a filter only see the surviving tokens' values changed, never revived.
 */
export interface LogitsProcessor {
  readonly name: string;
  process(scores: Float64Array, ctx: ProcessContext): void;
}

/**
 * The scores as a processor that touches a few ids sees them: one id read or written at a time,
 * or every score set at once. Ids outside [0, length) read as NaN and writes to them are dropped,
 * as a Float64Array has it. The native sampler (native-sampler.ts) gives one over the raw logits
 * that records the writes, so these processors never copy a whole vocabulary on the caller's thread.
 */
export interface ScoreAccess {
  readonly length: number;
  get(id: number): number;
  set(id: number, value: number): void;
  fill(value: number): void;
}

/**
 * A processor whose work is a few ids' worth, written once against ScoreAccess; its process()
 * must do the same to a Float64Array (the built-in ones call processSparse over DenseScores).
 */
export interface SparseProcessor extends LogitsProcessor {
  processSparse(scores: ScoreAccess, ctx: ProcessContext): void;
}

export function isSparse(p: LogitsProcessor): p is SparseProcessor {
  return typeof (p as Partial<SparseProcessor>).processSparse === 'function';
}

/** ScoreAccess over a whole Float64Array: what process() of a sparse processor uses. */
class DenseScores implements ScoreAccess {
  constructor(private readonly scores: Float64Array) {}
  get length(): number {
    return this.scores.length;
  }
  get(id: number): number {
    return this.scores[id] ?? NaN;
  }
  set(id: number, value: number): void {
    this.scores[id] = value;
  }
  fill(value: number): void {
    this.scores.fill(value);
  }
}

/** Indices sorted by score descending, ties by lower index first (the deterministic order). */
export function rankedIndices(scores: Float64Array): number[] {
  const idx: number[] = [];
  for (let i = 0; i < scores.length; i++) if (scores[i] !== -Infinity) idx.push(i);
  idx.sort((a, b) => scores[b]! - scores[a]! || a - b);
  return idx;
}

/**
 * The first `count` indices of the ranked order (see rankedIndices) without sorting indices:
 * the typed-array sort of the values finds the threshold, ties at it go to the lower indices.
 */
export function topRanked(scores: Float64Array, count: number, sortedDesc = sortDesc(scores)): number[] {
  const n = Math.min(count, sortedDesc.length);
  if (n === 0) return [];
  const thr = sortedDesc[n - 1]!;
  let above = 0;
  for (let i = 0; i < n; i++) if (sortedDesc[i]! > thr) above++;
  let ties = n - above;
  const out: number[] = [];
  for (let i = 0; i < scores.length; i++) {
    const v = scores[i]!;
    if (v > thr) out.push(i);
    else if (v === thr && ties > 0) {
      out.push(i);
      ties--;
    }
  }
  return out;
}

/** The k largest non--inf scores, sorted descending, in one pass (cheap when k is small). */
export function topValues(scores: Float64Array, k: number): Float64Array {
  const buf = new Float64Array(Math.min(k, scores.length));
  let len = 0;
  for (const v of scores) {
    if (v === -Infinity || (len === buf.length && !(v > buf[len - 1]!))) continue;
    let j = len < buf.length ? len++ : len - 1;
    while (j > 0 && buf[j - 1]! < v) {
      buf[j] = buf[j - 1]!;
      j--;
    }
    buf[j] = v;
  }
  return buf.subarray(0, len);
}

/** The finite-or-+inf scores (not -inf), sorted descending. */
export function sortDesc(scores: Float64Array): Float64Array {
  let n = 0;
  const v = new Float64Array(scores.length);
  for (const x of scores) if (x !== -Infinity) v[n++] = x;
  return v.subarray(0, n).sort().reverse();
}

/** softmax in f64 over finite-or--inf scores; an all -inf input gives all zeros. */
export function softmax(scores: Float64Array): Float64Array {
  let max = -Infinity;
  for (const v of scores) if (v > max) max = v;
  const p = new Float64Array(scores.length);
  if (max === -Infinity) return p;
  let sum = 0;
  for (let i = 0; i < scores.length; i++) {
    const e = Math.exp(scores[i]! - max);
    p[i] = e;
    sum += e;
  }
  for (let i = 0; i < p.length; i++) p[i] = p[i]! / sum;
  return p;
}

function keepOnly(scores: Float64Array, keep: readonly number[]): void {
  const mask = new Uint8Array(scores.length);
  for (const i of keep) mask[i] = 1;
  for (let i = 0; i < scores.length; i++) if (!mask[i]) scores[i] = -Infinity;
}

function check(cond: boolean, name: string, what: string, value: unknown): void {
  if (!cond) throw new RangeError(`${name} must be ${what}, got ${String(value)}`);
}

/** Divides by t; t = 0 is greedy: only the arg-max survives (lowest index among equal maxima). */
export class Temperature implements LogitsProcessor {
  readonly name = 'temperature';
  constructor(readonly t: number) {
    check(Number.isFinite(t) && t >= 0, "'temperature'", 'a finite number >= 0', t);
  }
  process(scores: Float64Array): void {
    if (this.t === 0) {
      let best = -1;
      for (let i = 0; i < scores.length; i++) if (best < 0 ? scores[i] !== -Infinity : scores[i]! > scores[best]!) best = i;
      if (best >= 0) keepOnly(scores, [best]);
      return;
    }
    for (let i = 0; i < scores.length; i++) scores[i] = scores[i]! / this.t;
  }
}

/** Keeps the k highest scores (ties at the edge go to the lower index). */
export class TopK implements LogitsProcessor {
  readonly name = 'top-k';
  constructor(readonly k: number) {
    check(Number.isInteger(k) && k >= 1, "'topK'", 'an integer >= 1', k);
  }
  process(scores: Float64Array): void {
    keepOnly(scores, topRanked(scores, this.k, topValues(scores, this.k)));
  }
}

/** Nucleus: the smallest set, in ranked order, whose probability mass is >= p. */
/**
 * Keeps the smallest prefix of a ranking whose mass reaches `reach` of the total, in linear time:
 * tokens are ranked by `key` ascending (ties: lower index first), key >= 0 or -1 for tokens
 * already removed, each weighing `weight`. Mass is binned by key (kBinsPerNat bins per nat, the
 * last bin taking every key past kSpanNats), the bins are walked from the smallest key until they
 * reach the target, and only the bin where the walk stops is sorted. A full sort of 50k tokens
 * took 5-20 ms a step; this takes about 1.
 */
function keepLightestPrefix(scores: Float64Array, key: Float64Array, weight: Float64Array, reach: number): void {
  const last = kBinsPerNat * kSpanNats; // the catch-all bin
  const mass = new Float64Array(last + 1);
  const bin = new Int32Array(scores.length).fill(-1);
  let total = 0;
  for (let i = 0; i < scores.length; i++) {
    if (key[i]! < 0) continue;
    const b = Math.min(last, Math.floor(key[i]! * kBinsPerNat));
    bin[i] = b;
    mass[b] = mass[b]! + weight[i]!;
    total += weight[i]!;
  }
  const target = reach * total;
  let acc = 0;
  let edge = 0;
  while (edge <= last && acc + mass[edge]! < target) acc += mass[edge++]!;
  if (edge > last) return; // rounding kept the walk short of the target: every token stays
  const members: number[] = [];
  for (let i = 0; i < scores.length; i++) if (bin[i] === edge) members.push(i);
  members.sort((a, b) => key[a]! - key[b]! || a - b);
  let n = 0;
  while (n < members.length && acc < target) acc += weight[members[n++]!]!;
  for (let i = n; i < members.length; i++) scores[members[i]!] = -Infinity;
  for (let i = 0; i < scores.length; i++) if (bin[i]! > edge) scores[i] = -Infinity;
}

const kBinsPerNat = 32;
const kSpanNats = 64;

/** Keeps the smallest set of top-ranked tokens (see rankedIndices) whose probability mass reaches p. */
export class TopP implements LogitsProcessor {
  readonly name = 'top-p';
  constructor(readonly p: number) {
    check(p > 0 && p <= 1, "'topP'", 'in (0, 1]', p);
  }
  process(scores: Float64Array): void {
    let max = -Infinity;
    for (let i = 0; i < scores.length; i++) if (scores[i]! > max) max = scores[i]!;
    if (max === -Infinity) return;
    // A relative slack absorbs rounding so that, e.g., 0.5 + 0.3 + 0.2 reaches p = 1.
    const reach = this.p * (1 - 1e-12);
    if (max === Infinity) {
      // +Infinity scores share all the mass equally (as the sampler's softmax has it).
      let count = 0;
      for (let i = 0; i < scores.length; i++) if (scores[i] === Infinity) count++;
      let keep = Math.max(1, Math.ceil(reach * count));
      for (let i = 0; i < scores.length; i++) if (scores[i] !== Infinity || keep-- <= 0) scores[i] = -Infinity;
      return;
    }
    // Ranked by distance below the top score, weighed by exp(score - max).
    const key = new Float64Array(scores.length);
    const weight = new Float64Array(scores.length);
    for (let i = 0; i < scores.length; i++) {
      const v = scores[i]!;
      key[i] = v === -Infinity ? -1 : max - v;
      weight[i] = v === -Infinity ? 0 : Math.exp(v - max);
    }
    keepLightestPrefix(scores, key, weight, reach);
  }
}

/** Keeps tokens whose probability is at least p times the most likely token's. */
export class MinP implements LogitsProcessor {
  readonly name = 'min-p';
  constructor(readonly p: number) {
    check(p >= 0 && p <= 1, "'minP'", 'in [0, 1]', p);
  }
  process(scores: Float64Array): void {
    const probs = softmax(scores);
    let max = 0;
    for (const v of probs) if (v > max) max = v;
    for (let i = 0; i < scores.length; i++) if (probs[i]! < this.p * max) scores[i] = -Infinity;
  }
}

/**
 * Locally typical sampling (Meister et al. 2022): rank tokens by |-log p - H| (H the entropy),
 * keep the smallest prefix of that ranking with mass >= p.
 */
export class TypicalP implements LogitsProcessor {
  readonly name = 'typical-p';
  constructor(readonly p: number) {
    check(p > 0 && p <= 1, "'typicalP'", 'in (0, 1]', p);
  }
  process(scores: Float64Array): void {
    let max = -Infinity;
    for (let i = 0; i < scores.length; i++) if (scores[i]! > max) max = scores[i]!;
    if (max === -Infinity) return;
    if (max === Infinity) {
      // +Infinity scores share all the mass: H = log(count), every one of them equally typical.
      new TopP(this.p).process(scores);
      return;
    }
    // With e = exp(s - max) and z their sum: -log p = log z - (s - max) and H = log z - E[s - max],
    // so |-log p - H| = |E[s - max] - (s - max)|: the distance from the expected score. Tokens whose
    // probability underflows to 0 carry no information and drop out.
    const weight = new Float64Array(scores.length);
    let z = 0;
    for (let i = 0; i < scores.length; i++) {
      const v = scores[i]!;
      weight[i] = v === -Infinity ? 0 : Math.exp(v - max);
      z += weight[i]!;
    }
    let expected = 0;
    for (let i = 0; i < scores.length; i++) if (weight[i]! / z > 0) expected += (weight[i]! / z) * (scores[i]! - max);
    const key = new Float64Array(scores.length);
    for (let i = 0; i < scores.length; i++) {
      if (weight[i]! / z > 0) key[i] = Math.abs(expected - (scores[i]! - max));
      else {
        key[i] = -1;
        scores[i] = -Infinity;
      }
    }
    keepLightestPrefix(scores, key, weight, this.p * (1 - 1e-12));
  }
}

/** CTRL's repetition penalty over every id so far: positive scores / r, negative scores * r. */
export class RepetitionPenalty implements SparseProcessor {
  readonly name = 'repetition-penalty';
  constructor(readonly r: number) {
    check(Number.isFinite(r) && r > 0, "'repetitionPenalty'", 'a finite number > 0', r);
  }
  process(scores: Float64Array, ctx: ProcessContext): void {
    this.processSparse(new DenseScores(scores), ctx);
  }
  processSparse(scores: ScoreAccess, ctx: ProcessContext): void {
    for (const id of new Set(ctx.ids)) {
      if (id < 0 || id >= scores.length) continue;
      const v = scores.get(id);
      scores.set(id, v > 0 ? v / this.r : v * this.r);
    }
  }
}

/**
 * OpenAI-style additive penalties over the generated ids (not the prompt):
 * score -= presence * [count > 0] + frequency * count.
 */
export class PresenceFrequencyPenalty implements SparseProcessor {
  readonly name = 'presence-frequency-penalty';
  constructor(readonly presence: number, readonly frequency: number) {
    check(Number.isFinite(presence), "'presencePenalty'", 'a finite number', presence);
    check(Number.isFinite(frequency), "'frequencyPenalty'", 'a finite number', frequency);
  }
  process(scores: Float64Array, ctx: ProcessContext): void {
    this.processSparse(new DenseScores(scores), ctx);
  }
  processSparse(scores: ScoreAccess, ctx: ProcessContext): void {
    const counts = new Map<number, number>();
    for (let i = ctx.promptLength; i < ctx.ids.length; i++) counts.set(ctx.ids[i]!, (counts.get(ctx.ids[i]!) ?? 0) + 1);
    for (const [id, c] of counts) if (id >= 0 && id < scores.length) scores.set(id, scores.get(id) - this.presence - this.frequency * c);
  }
}

/** Adds a fixed bias per token id (-Infinity bans it). */
export class LogitBias implements SparseProcessor {
  readonly name = 'logit-bias';
  readonly bias: ReadonlyMap<number, number>;
  constructor(bias: ReadonlyMap<number, number> | Record<number, number>, vocabSize: number) {
    const m = bias instanceof Map ? bias : new Map(Object.entries(bias).map(([k, v]) => [Number(k), v] as [number, number]));
    for (const [id, b] of m) {
      check(Number.isInteger(id) && id >= 0 && id < vocabSize, "'logitBias' key", `a token id in [0, ${vocabSize})`, id);
      check(typeof b === 'number' && !Number.isNaN(b), `'logitBias[${id}]'`, 'a number', b);
    }
    this.bias = m;
  }
  process(scores: Float64Array): void {
    this.processSparse(new DenseScores(scores));
  }
  processSparse(scores: ScoreAccess): void {
    for (const [id, b] of this.bias) scores.set(id, scores.get(id) + b);
  }
}

/** Bans each id sequence: its last id is removed whenever the ids so far end with the rest of it. */
export class BadWords implements SparseProcessor {
  readonly name = 'bad-words';
  constructor(readonly sequences: readonly (readonly number[])[], vocabSize: number) {
    for (const s of sequences) {
      check(Array.isArray(s) && s.length > 0, "each 'badWords' entry", 'a non-empty id sequence', s);
      for (const id of s) check(Number.isInteger(id) && id >= 0 && id < vocabSize, "'badWords' id", `in [0, ${vocabSize})`, id);
    }
  }
  process(scores: Float64Array, ctx: ProcessContext): void {
    this.processSparse(new DenseScores(scores), ctx);
  }
  processSparse(scores: ScoreAccess, ctx: ProcessContext): void {
    const ids = ctx.ids;
    for (const s of this.sequences) {
      const prefix = s.length - 1;
      let match = prefix <= ids.length;
      for (let j = 0; match && j < prefix; j++) if (ids[ids.length - prefix + j] !== s[j]) match = false;
      if (match) scores.set(s[s.length - 1]!, -Infinity);
    }
  }
}

/** Forces given ids at given generated positions (0 = the first new token). */
export class ForcedTokens implements SparseProcessor {
  readonly name = 'forced-tokens';
  readonly forced: ReadonlyMap<number, number>;
  constructor(forced: ReadonlyMap<number, number> | readonly number[], vocabSize: number) {
    const m = Array.isArray(forced) ? new Map(forced.map((id, i) => [i, id] as [number, number])) : (forced as ReadonlyMap<number, number>);
    for (const [step, id] of m) {
      check(Number.isInteger(step) && step >= 0, "'forcedTokens' position", 'an integer >= 0', step);
      check(Number.isInteger(id) && id >= 0 && id < vocabSize, "'forcedTokens' id", `in [0, ${vocabSize})`, id);
    }
    this.forced = m;
  }
  process(scores: Float64Array, ctx: ProcessContext): void {
    this.processSparse(new DenseScores(scores), ctx);
  }
  processSparse(scores: ScoreAccess, ctx: ProcessContext): void {
    const id = this.forced.get(ctx.ids.length - ctx.promptLength);
    if (id === undefined) return;
    scores.fill(-Infinity);
    scores.set(id, 0);
  }
}

/** Bans any id that would repeat an n-gram already present in the ids so far. */
export class NoRepeatNGram implements SparseProcessor {
  readonly name = 'no-repeat-ngram';
  constructor(readonly n: number) {
    check(Number.isInteger(n) && n >= 1, "'noRepeatNgramSize'", 'an integer >= 1', n);
  }
  process(scores: Float64Array, ctx: ProcessContext): void {
    this.processSparse(new DenseScores(scores), ctx);
  }
  processSparse(scores: ScoreAccess, ctx: ProcessContext): void {
    const ids = ctx.ids;
    const n = this.n;
    if (ids.length + 1 < n) return;
    const start = ids.length - (n - 1); // the last n-1 ids are the prefix of the n-gram being made
    for (let i = 0; i + n <= ids.length; i++) {
      let same = true;
      for (let j = 0; j < n - 1 && same; j++) if (ids[i + j] !== ids[start + j]) same = false;
      if (same) scores.set(ids[i + n - 1]!, -Infinity);
    }
  }
}

/** Keeps end-of-sequence ids off until `min` new tokens exist (HF's MinNewTokensLengthLogitsProcessor). */
export class MinNewTokens implements SparseProcessor {
  readonly name = 'min-new-tokens';
  constructor(readonly min: number, readonly eos: readonly number[]) {
    check(Number.isInteger(min) && min >= 0, "'minNewTokens'", 'an integer >= 0', min);
  }
  process(scores: Float64Array, ctx: ProcessContext): void {
    this.processSparse(new DenseScores(scores), ctx);
  }
  processSparse(scores: ScoreAccess, ctx: ProcessContext): void {
    if (ctx.ids.length - ctx.promptLength < this.min) for (const id of this.eos) scores.set(id, -Infinity);
  }
}

/** Runs processors in order. */
export class ProcessorChain implements LogitsProcessor {
  readonly name = 'chain';
  constructor(readonly processors: readonly LogitsProcessor[]) {}
  process(scores: Float64Array, ctx: ProcessContext): void {
    for (const p of this.processors) p.process(scores, ctx);
  }
}
