// What the route modules share: the pool serving now (swapped on reload), the model's public
// name, readiness and drain state, and the Prometheus metrics. Not the routes themselves.

import type { FastifyInstance } from 'fastify';
import type { InferencePool } from '../scheduler/pool.js';
import type { ServerMetrics } from './prometheus.js';

export interface ServerContext {
  /** The pool new requests go to; a reload swaps it, requests already running keep theirs. */
  pool(): InferencePool;
  /** Name reported in responses' `model` field (never a file path). */
  readonly modelName: string;
  readonly metrics: ServerMetrics;
  /** 'loading' until the pool's model is loaded, 'ready', 'draining' once shutdown began, or 'failed'. */
  state(): { status: 'loading' | 'ready' | 'draining' | 'failed'; error?: string };
}

/** A route module: registers its routes on the app; the server lists the modules it serves. */
export type RouteModule = (app: FastifyInstance, ctx: ServerContext) => void;
