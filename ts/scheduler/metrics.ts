// Pool metrics: queue depth, active sequences, tokens/s over a sliding window, time to first
// token percentiles, the workers' batch sizes, and the main thread's event-loop delay.

import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';
import type { BatchReport } from './protocol.js';

export interface PoolMetrics {
  queueDepth: number;
  /** Requests that failed because their worker died (Piscina starts a new one). */
  workerCrashes?: number;
  /** KV-cache pages held, summed over the workers' latest reports. */
  kvPagesInUse?: number;
  activeSequences: number;
  workers: number;
  completed: number;
  failed: number;
  cancelled: number;
  rejected: number;
  /** Generated tokens per second over the last `windowMs`. */
  tokensPerSecond: number;
  /** Time to first token over recent requests, ms. */
  timeToFirstTokenMs: { p50: number; p95: number; count: number };
  /** Main-thread event-loop delay since the last reset, ms. */
  eventLoopDelayMs: { p50: number; p99: number; max: number };
  /**
   * Forward passes the workers ran since the pool started (reported as requests end) and how
   * many sequences and new tokens each carried: `histogram[n]` counts passes of n sequences.
   * Zeros for engines that do not report passes. `prefixTokens`: prompt tokens taken from
   * the prefix cache instead of being run.
   */
  batch: { passes: number; meanSequences: number; meanTokens: number; histogram: number[]; prefixTokens: number };
}

const WINDOW_MS = 10_000;
/**
 * Sampling interval of the event-loop histogram, ms. Node records the whole interval between
 * samples (an idle loop reads ~this value), so the delay is what exceeds it.
 */
const LOOP_RESOLUTION_MS = 2;
const TTFT_SAMPLES = 512;

function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

export class MetricsRecorder {
  completed = 0;
  failed = 0;
  cancelled = 0;
  rejected = 0;
  private readonly tokenTimes: number[] = [];
  private readonly ttft: number[] = [];
  private readonly passes = { passes: 0, sequences: 0, tokens: 0, histogram: [] as number[], prefixTokens: 0 };
  private readonly loop: IntervalHistogram;

  constructor() {
    this.loop = monitorEventLoopDelay({ resolution: LOOP_RESOLUTION_MS });
    this.loop.enable();
  }

  token(now = performance.now()): void {
    this.tokenTimes.push(now);
    if (this.tokenTimes.length > 100_000) this.tokenTimes.splice(0, this.tokenTimes.length - 50_000);
  }

  firstToken(ms: number): void {
    this.ttft.push(ms);
    if (this.ttft.length > TTFT_SAMPLES) this.ttft.shift();
  }

  /** Adds a worker's report of the passes it ran. */
  batches(r: BatchReport): void {
    const p = this.passes;
    p.passes += r.passes;
    p.sequences += r.sequences;
    p.tokens += r.tokens;
    p.prefixTokens += r.prefixTokens ?? 0;
    r.histogram.forEach((n, i) => (p.histogram[i] = (p.histogram[i] ?? 0) + n));
  }

  snapshot(base: Pick<PoolMetrics, 'queueDepth' | 'activeSequences' | 'workers'>): PoolMetrics {
    const now = performance.now();
    let k = this.tokenTimes.length;
    while (k > 0 && this.tokenTimes[k - 1]! > now - WINDOW_MS) k--;
    const recent = this.tokenTimes.length - k;
    const span = recent > 0 ? Math.max(1, Math.min(WINDOW_MS, now - this.tokenTimes[k]!)) : WINDOW_MS;
    const ttft = [...this.ttft].sort((a, b) => a - b);
    const ns = 1e6;
    const delay = (v: number): number => (this.loop.count ? Math.max(0, v / ns - LOOP_RESOLUTION_MS) : 0);
    return {
      ...base,
      completed: this.completed,
      failed: this.failed,
      cancelled: this.cancelled,
      rejected: this.rejected,
      tokensPerSecond: (recent * 1000) / span,
      timeToFirstTokenMs: { p50: percentile(ttft, 50), p95: percentile(ttft, 95), count: ttft.length },
      eventLoopDelayMs: {
        p50: delay(this.loop.percentile(50)),
        p99: delay(this.loop.percentile(99)),
        max: delay(this.loop.max),
      },
      batch: {
        passes: this.passes.passes,
        meanSequences: this.passes.passes ? this.passes.sequences / this.passes.passes : 0,
        meanTokens: this.passes.passes ? this.passes.tokens / this.passes.passes : 0,
        histogram: Array.from(this.passes.histogram, (n) => n ?? 0),
        prefixTokens: this.passes.prefixTokens,
      },
    };
  }

  resetEventLoopDelay(): void {
    this.loop.reset();
  }

  stop(): void {
    this.loop.disable();
  }
}
