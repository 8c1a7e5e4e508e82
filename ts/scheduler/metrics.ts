// Pool metrics: queue depth, active sequences, tokens/s over a sliding window, time to first
// token percentiles, and the main thread's event-loop delay (perf_hooks histogram).

import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';

export interface PoolMetrics {
  queueDepth: number;
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
    };
  }

  resetEventLoopDelay(): void {
    this.loop.reset();
  }

  stop(): void {
    this.loop.disable();
  }
}
