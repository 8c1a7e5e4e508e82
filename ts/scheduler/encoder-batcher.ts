// Continuous batching for an encoder worker: the sequences of every request waiting share packed
// passes (segmented attention: they never see each other) of at most maxBatch sequences and
// maxTokens tokens, oldest request first. Not tokenization nor the tasks' heads (encoder-engine.ts).

import type { EncoderOutput } from '../models/encoder.js';
import type { BatchStats } from '../generate/decoder-lm.js';

/** One tokenized sequence: ids and their token type ids, the same length. */
export interface PackedSequence {
  ids: readonly number[]; // (T) token ids
  typeIds: readonly number[]; // (T) token type ids
}

/** What the batcher needs of a model: one packed pass at a time, within its planned limits. */
export interface PassRunner {
  forward(batch: readonly (readonly number[])[], options: { tokenTypeIds: readonly (readonly number[])[] }): Promise<EncoderOutput[]>;
  readonly maxBatch: number;
  readonly maxTokens: number;
}

export interface BatcherOptions {
  /** Share passes across requests; false: each pass holds one request's sequences only. Default true. */
  batching: boolean;
  /** Most tokens one pass holds; at most the runner's maxTokens. */
  maxTokens: number;
}

interface Job {
  seqs: readonly PackedSequence[];
  /** The first sequence not yet given to a pass. */
  next: number;
  /** Outputs of the sequences done (by index). */
  outs: EncoderOutput[];
  done: number;
  signal: AbortSignal;
  onAbort(): Error;
  resolve(o: EncoderOutput[]): void;
  reject(e: unknown): void;
  settled: boolean;
  abort?: () => void;
}

export class EncoderBatcher {
  private readonly jobs: Job[] = [];
  private looping = false;
  /** The pass running now, if any: close() waits for it before the model may be freed. */
  private current: Promise<unknown> | undefined;
  private closed = false;
  private readonly stats: BatchStats = { passes: 0, sequences: 0, tokens: 0, histogram: [], prefixTokens: 0 };

  constructor(
    private readonly runner: PassRunner,
    private readonly options: BatcherOptions,
  ) {}

  /**
   * Runs `seqs` (each at most options.maxTokens long) in passes shared with other requests and
   * resolves to their outputs in order; rejects with onAbort() once `signal` aborts (checked
   * before every pass; a pass running when it aborts finishes, its rows are dropped).
   */
  run(seqs: readonly PackedSequence[], signal: AbortSignal, onAbort: () => Error): Promise<EncoderOutput[]> {
    return new Promise<EncoderOutput[]>((resolve, reject) => {
      const job: Job = { seqs, next: 0, outs: new Array<EncoderOutput>(seqs.length), done: 0, signal, onAbort, resolve, reject, settled: false };
      if (this.closed) return reject(new Error('the encoder engine is shutting down'));
      if (signal.aborted) return reject(onAbort());
      if (seqs.length === 0) return resolve([]);
      const long = seqs.findIndex((q) => q.ids.length > this.options.maxTokens);
      if (long >= 0) return reject(new RangeError(`sequence ${long} has ${seqs[long]!.ids.length} tokens, more than the ${this.options.maxTokens} one pass holds`));
      job.abort = () => this.settle(job, onAbort());
      signal.addEventListener('abort', job.abort, { once: true });
      this.jobs.push(job);
      this.kick();
    });
  }

  /**
   * Rejects the requests waiting and resolves once no pass runs: the model may be disposed then
   * (freeing it under a running pass would pull native memory from under the kernels).
   */
  async close(): Promise<void> {
    this.closed = true;
    for (const job of [...this.jobs]) this.settle(job, new Error('the encoder engine is shutting down'));
    await this.current?.catch(() => undefined);
  }

  /** Passes run so far (cumulative): the pool's batch metrics. */
  batchStats(): BatchStats {
    return { ...this.stats, histogram: [...this.stats.histogram] };
  }

  private settle(job: Job, error?: unknown): void {
    if (job.settled) return;
    job.settled = true;
    if (job.abort) job.signal.removeEventListener('abort', job.abort);
    const i = this.jobs.indexOf(job);
    if (i >= 0) this.jobs.splice(i, 1);
    if (error !== undefined) job.reject(error);
    else job.resolve(job.outs);
  }

  // The loop starts on the next turn of the event loop, so requests that arrive together (in the
  // same turn) are in its first pass; ones arriving during a pass join the next.
  private kick(): void {
    if (this.looping) return;
    this.looping = true;
    setImmediate(() => void this.loop());
  }

  /** The next pass: sequences taken in request order while they fit (one request only without batching). */
  private nextPass(): { job: Job; index: number }[] {
    const pass: { job: Job; index: number }[] = [];
    let tokens = 0;
    const maxSeqs = this.runner.maxBatch;
    for (const job of this.jobs) {
      while (job.next < job.seqs.length && pass.length < maxSeqs) {
        const t = job.seqs[job.next]!.ids.length;
        if (tokens + t > this.options.maxTokens) break;
        tokens += t;
        pass.push({ job, index: job.next++ });
      }
      if (!this.options.batching && pass.length) break;
      if (pass.length >= maxSeqs || (job.next < job.seqs.length && pass.length)) break;
    }
    return pass;
  }

  private async loop(): Promise<void> {
    try {
      for (;;) {
        const pass = this.nextPass();
        if (pass.length === 0) break;
        const seqs = pass.map(({ job, index }) => job.seqs[index]!);
        let outs: EncoderOutput[];
        try {
          const running = this.runner.forward(seqs.map((s) => s.ids), { tokenTypeIds: seqs.map((s) => s.typeIds) });
          this.current = running;
          outs = await running;
        } catch (e) {
          for (const { job } of pass) this.settle(job, e);
          continue;
        }
        this.record(seqs);
        pass.forEach(({ job, index }, k) => {
          if (job.settled) return;
          job.outs[index] = outs[k]!;
          if (++job.done === job.seqs.length) this.settle(job);
        });
      }
    } finally {
      this.current = undefined;
      this.looping = false;
      if (this.jobs.some((j) => j.next < j.seqs.length)) this.kick();
    }
  }

  private record(seqs: readonly PackedSequence[]): void {
    const s = this.stats;
    s.passes++;
    s.sequences += seqs.length;
    for (const q of seqs) s.tokens += q.ids.length;
    s.histogram[seqs.length] = (s.histogram[seqs.length] ?? 0) + 1;
    for (let i = 0; i < s.histogram.length; i++) s.histogram[i] ??= 0;
  }
}
