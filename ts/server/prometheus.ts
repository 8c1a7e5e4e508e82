// The server's Prometheus metrics (prom-client, text exposition format): HTTP requests by route
// and status, tokens generated, time to first token and per-token latency, and the pool's gauges
// read at scrape time. A registry of its own per server, never prom-client's global one.

import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { InferencePool } from '../scheduler/pool.js';

/** Latency buckets in seconds: 5 ms to 60 s. */
const LATENCY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

export class ServerMetrics {
  readonly registry = new Registry();
  private readonly requests = new Counter({ name: 'attnode_http_requests_total', help: 'HTTP requests answered, by route, method and status code', labelNames: ['route', 'method', 'status'] as const, registers: [this.registry] });
  private readonly tokens = new Counter({ name: 'attnode_generated_tokens_total', help: 'Tokens generated for completed and cancelled requests', registers: [this.registry] });
  private readonly ttft = new Histogram({ name: 'attnode_time_to_first_token_seconds', help: 'Time from a request reaching the server to its first generated token', buckets: LATENCY_BUCKETS, registers: [this.registry] });
  private readonly perToken = new Histogram({ name: 'attnode_time_per_output_token_seconds', help: 'Time between consecutive generated tokens of a request', buckets: LATENCY_BUCKETS, registers: [this.registry] });
  // By size, as a counter per size (the workers report counts per size, not single passes).
  private readonly batch = new Counter({ name: 'attnode_batch_passes_total', help: 'Forward passes run, by the number of sequences they carried', labelNames: ['sequences'] as const, registers: [this.registry] });
  private readonly crashes = new Counter({ name: 'attnode_worker_restarts_total', help: 'Workers that died under a request and were replaced', registers: [this.registry] });
  private readonly clientFull = new Counter({ name: 'attnode_client_queue_full_total', help: 'Requests refused (429) because their client had max-queue-per-client requests in flight', registers: [this.registry] });
  private readonly queueDepth = new Gauge({ name: 'attnode_queue_depth', help: 'Requests waiting for a worker', registers: [this.registry] });
  private readonly active = new Gauge({ name: 'attnode_active_sequences', help: 'Sequences being generated now', registers: [this.registry] });
  private readonly kvPages = new Gauge({ name: 'attnode_kv_pages_in_use', help: 'KV-cache pages held by the workers (as of their latest report)', registers: [this.registry] });
  private readonly loopDelay = new Gauge({ name: 'attnode_event_loop_delay_p99_seconds', help: "The main thread's event-loop delay, 99th percentile", registers: [this.registry] });
  /** What the pool's cumulative counts were at the last scrape, per pool (a reload starts a new one). */
  private seen = new WeakMap<InferencePool, { histogram: number[]; crashes: number }>();

  constructor() {
    collectDefaultMetrics({ register: this.registry });
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  request(route: string, method: string, status: number): void {
    this.requests.inc({ route, method, status: String(status) });
  }

  /** A request refused by the per-client queue limit. */
  clientQueueFull(): void {
    this.clientFull.inc();
  }

  /** A finished request's tokens, with its time to first token and the gaps between tokens (seconds). */
  generation(tokens: number, ttftSeconds: number | undefined, gapsSeconds: readonly number[]): void {
    this.tokens.inc(tokens);
    if (ttftSeconds !== undefined) this.ttft.observe(ttftSeconds);
    for (const g of gapsSeconds) this.perToken.observe(g);
  }

  /** The text exposition, with the pool's gauges and counters brought up to date first. */
  async expose(pool: InferencePool): Promise<string> {
    const m = pool.metrics();
    this.queueDepth.set(m.queueDepth);
    this.active.set(m.activeSequences);
    this.kvPages.set(m.kvPagesInUse ?? 0);
    this.loopDelay.set(m.eventLoopDelayMs.p99 / 1000);
    const last = this.seen.get(pool) ?? { histogram: [], crashes: 0 };
    m.batch.histogram.forEach((n, size) => {
      const delta = n - (last.histogram[size] ?? 0);
      if (delta > 0) this.batch.inc({ sequences: String(size) }, delta);
    });
    const crashes = m.workerCrashes ?? 0;
    if (crashes > last.crashes) this.crashes.inc(crashes - last.crashes);
    this.seen.set(pool, { histogram: [...m.batch.histogram], crashes });
    return this.registry.metrics();
  }
}
