// The sampler's step in the addon: the chain is split into the few-id processors TypeScript runs
// (recording writes, never copying the vocabulary) and the vocabulary passes the 'sample' op runs
// in async work, off the caller's thread. Not the reference: sampler.ts sampleNext is, and this
// gives its ids and logprobs bit for bit (test/generate/native-sampler.test.ts).

import {
  MinP, ProcessorChain, Temperature, TopK, TopP, TypicalP, isSparse,
  type LogitsProcessor, type ProcessContext, type ScoreAccess, type SparseProcessor,
} from './processors.js';
import type { Rng } from './rng.js';
import type { SampledToken } from './sampler.js';
import type { NativeAddon } from '../native.js';

/** Step kinds as native/src/cpu/sampler.h numbers them (SamplerStep). */
const STEP_KIND = { temperature: 0, topK: 1, topP: 2, minP: 3, typicalP: 4 } as const;
type StepKind = (typeof STEP_KIND)[keyof typeof STEP_KIND];

/**
 * The op's step for a built-in vocabulary pass. By exact class, not by name or instanceof: a
 * user's processor may share a name, and a subclass may override process(), which C++ cannot run.
 */
function stepOf(p: LogitsProcessor): [StepKind, number] | undefined {
  const c = p.constructor;
  if (c === Temperature) return [STEP_KIND.temperature, (p as Temperature).t];
  if (c === TopK) return [STEP_KIND.topK, (p as TopK).k];
  if (c === TopP) return [STEP_KIND.topP, (p as TopP).p];
  if (c === MinP) return [STEP_KIND.minP, (p as MinP).p];
  if (c === TypicalP) return [STEP_KIND.typicalP, (p as TypicalP).p];
  return undefined;
}

/**
 * How a chain runs: `head` in TypeScript, then `steps` in the addon. The steps are the longest
 * tail of built-in vocabulary passes (buildProcessors puts them all last). When every head
 * processor is sparse, the head records writes over the raw logits (`sparse`); otherwise (a
 * user's processor sees a whole Float64Array) the head runs over a full copy on this thread,
 * and only the tail leaves it.
 */
interface Plan {
  head: readonly LogitsProcessor[];
  sparse: readonly SparseProcessor[] | undefined;
  steps: Int32Array; // (S) StepKind
  stepParams: Float64Array; // (S)
}

const plans = new WeakMap<ProcessorChain, Plan>();

function flatten(p: LogitsProcessor, into: LogitsProcessor[]): void {
  if (p instanceof ProcessorChain) for (const q of p.processors) flatten(q, into);
  else into.push(p);
}

function planOf(chain: ProcessorChain): Plan {
  const cached = plans.get(chain);
  if (cached) return cached;
  const all: LogitsProcessor[] = [];
  flatten(chain, all);
  let split = all.length;
  while (split > 0 && stepOf(all[split - 1]!) !== undefined) split--;
  const head = all.slice(0, split);
  const tail = all.slice(split).map((p) => stepOf(p)!);
  const plan: Plan = {
    head,
    sparse: head.every(isSparse) ? head : undefined,
    steps: Int32Array.from(tail, (s) => s[0]),
    stepParams: Float64Array.from(tail, (s) => s[1]),
  };
  plans.set(chain, plan);
  return plan;
}

/**
 * ScoreAccess over the raw logits that keeps writes aside: what the sparse head processors see.
 * Reads give what a Float64Array copy of the logits would hold after the same writes.
 */
class ScoreEdits implements ScoreAccess {
  readonly written = new Map<number, number>();
  /** every score's value after a fill(); undefined: the logits */
  base: number | undefined;
  constructor(private readonly logits: Float32Array) {}
  get length(): number {
    return this.logits.length;
  }
  private inRange(id: number): boolean {
    return Number.isInteger(id) && id >= 0 && id < this.logits.length;
  }
  get(id: number): number {
    if (!this.inRange(id)) return NaN;
    return this.written.get(id) ?? this.base ?? this.logits[id]!;
  }
  set(id: number, value: number): void {
    if (this.inRange(id)) this.written.set(id, value);
  }
  fill(value: number): void {
    this.base = value;
    this.written.clear();
  }
}

/** One request's ops (a 'sample', or a beam step's 'logSoftmax' and 'topCandidates') waiting for the end of this turn of the event loop. */
interface Queued {
  ops: NativeOpCall[];
  resolve(): void;
  reject(e: unknown): void;
}

const queues = new Map<NativeAddon, Queued[]>();
/** requests' op lists of this thread asked for and not yet settled */
let inFlight = 0;
let idleWaiters: (() => void)[] = [];

/**
 * Undefined when no sampling op (runQueued) of this thread is pending; else a Promise that settles once none
 * is, after the callers they settled have run on (their microtasks drained). The step batcher
 * waits for it so a pass carries every sequence that is sampling its next token, as it did
 * when sampling was synchronous.
 */
export function samplingIdle(): Promise<void> | undefined {
  if (inFlight === 0) return undefined;
  return new Promise<void>((resolve) => idleWaiters.push(resolve));
}

function settled(n: number): void {
  inFlight -= n;
  if (inFlight === 0 && idleWaiters.length > 0) setImmediate(wakeIdle);
}

function wakeIdle(): void {
  if (inFlight > 0) return; // a caller sampled again meanwhile: the next settle wakes them
  const waiters = idleWaiters;
  idleWaiters = [];
  for (const w of waiters) w();
}

/** One op of an opsAsync batch. */
export interface NativeOpCall {
  op: string;
  args: Record<string, unknown>;
}

/**
 * Runs the ops, in order, with the others asked for in this turn as one opsAsync batch, so they
 * settle together. Why: the sequences of one batched pass (decoder-lm.ts, seq2seq-lm.ts) sample
 * or score their beams as its results come back, and each must queue its next step before the
 * step batcher starts the next pass (setImmediate). With one Promise per request, the first to
 * settle would start that pass alone.
 */
export function runQueued(addon: NativeAddon, ops: NativeOpCall[]): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    let queue = queues.get(addon);
    if (!queue) {
      queue = [];
      queues.set(addon, queue);
      setImmediate(() => flush(addon));
    }
    queue.push({ ops, resolve, reject });
    inFlight++;
  });
}

function flush(addon: NativeAddon): void {
  const batch = queues.get(addon) ?? [];
  queues.delete(addon);
  let all: Promise<void>;
  try {
    all = addon.opsAsync(batch.flatMap((q) => q.ops));
  } catch {
    // An argument the op refused (it names which): each one alone, so only that request fails.
    for (const q of batch) {
      let one: Promise<void>;
      try {
        one = addon.opsAsync(q.ops);
      } catch (e) {
        q.reject(e);
        settled(1);
        continue;
      }
      one.then(q.resolve, q.reject).finally(() => settled(1));
    }
    return;
  }
  all.then(
    () => batch.forEach((q) => q.resolve()),
    (e: unknown) => batch.forEach((q) => q.reject(e)),
  ).finally(() => settled(batch.length));
}

/**
 * One step through the addon's 'sample' op: the same processing, softmax and draw as sampleNext
 * (same u from `rng`, drawn after the head ran, as sampleNext draws after its chain), with the
 * vocabulary-wide loops in async work. Rejects with sampleNext's errors; then `rng` has made one
 * draw that sampleNext's would not have (u is drawn before the op finds a NaN or an empty set),
 * which no later step sees since such an error ends the request.
 */
export async function sampleNative(
  addon: NativeAddon, logits: Float32Array, chain: ProcessorChain, ctx: ProcessContext, rng: Rng, wantLogprob: boolean,
): Promise<SampledToken> {
  const plan = planOf(chain);
  const args: Record<string, unknown> = {
    logits: { dtype: 'f32', shape: [logits.length], data: logits },
    logprob: wantLogprob,
  };
  if (plan.steps.length > 0) {
    args.steps = { dtype: 'i32', shape: [plan.steps.length], data: plan.steps };
    args.stepParams = plan.stepParams;
  }
  if (plan.sparse) {
    const edits = new ScoreEdits(logits);
    for (const p of plan.sparse) p.processSparse(edits, ctx);
    if (edits.base !== undefined) args.fill = edits.base;
    if (edits.written.size > 0) {
      args.editIds = { dtype: 'i32', shape: [edits.written.size], data: Int32Array.from(edits.written.keys()) };
      args.editValues = Float64Array.from(edits.written.values());
    }
  } else {
    // A user's processor reads the whole vocabulary here, so its copy and NaN check stay here too.
    const scores = Float64Array.from(logits);
    for (let i = 0; i < scores.length; i++) if (Number.isNaN(scores[i]!)) throw new RangeError(`sample: the model returned NaN for token ${i}`);
    for (const p of plan.head) p.process(scores, ctx);
    args.scores = scores;
  }
  args.u = rng.nextFloat();
  const out = new Float64Array(4); // [id or -1 / -2, NaN index, max logit, sum exp(logit - max)]
  args.out = out;
  await runQueued(addon, [{ op: 'sample', args }]);
  const id = out[0]!;
  if (id === -2) throw new RangeError(`sample: the model returned NaN for token ${out[1]!}`);
  if (id < 0) throw new RangeError('sample: the logits processors removed every token');
  return { id, logprob: wantLogprob ? logits[id]! - out[2]! - Math.log(out[3]!) : NaN };
}
