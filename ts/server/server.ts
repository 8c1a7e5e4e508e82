// `attnode serve`: an OpenAI-compatible HTTP API over an InferencePool (Fastify). This file
// builds the app (limits, timeouts, authentication, Host check, error shape, metrics) and lists
// the route modules under routes/; each route module owns its own paths.

import http from 'node:http';
import Fastify, { type FastifyInstance, type FastifySchemaValidationError } from 'fastify';
import type { InferencePool } from '../scheduler/pool.js';
import type { RouteModule, ServerContext } from './context.js';
import { errorBody, sendError } from './errors.js';
import { checkClientLimit, clientLimit, CLIENT_IDENTITIES, type ClientIdentity } from './client-limit.js';
import { apiKeyCheck, hostCheck } from './guard.js';
import { ServerMetrics } from './prometheus.js';
import { encoderRoutes } from './routes/encoder.js';
import { generationRoutes } from './routes/generation.js';
import { healthRoutes } from './routes/health.js';
import { metricsRoutes } from './routes/metrics.js';
import { schemaError, schemaParam } from './schemas.js';

/** The route modules served, in registration order (the encoder module's model-kind check comes before the generation routes). */
const ROUTES: readonly RouteModule[] = [healthRoutes, metricsRoutes, encoderRoutes, generationRoutes];

export interface ServerOptions {
  pool: InferencePool;
  /** Name reported in responses' `model` field and by /health; default 'attnode'. Never a path. */
  modelName?: string;
  /** Largest accepted request body in bytes; default 1 MiB. */
  bodyLimit?: number;
  /** Fastify's logger; default off. */
  logger?: boolean;
  /** Bearer token every route but /health requires; default: none (no authentication). */
  apiKey?: string;
  /** Host header names accepted (ports ignored); default: any. */
  allowedHosts?: readonly string[];
  /** Most open connections; more are refused at accept. Default 2048. */
  maxConnections?: number;
  /** Time a client has to send its request headers, ms; default 10000. */
  headersTimeoutMs?: number;
  /** Time a client has to send its whole request (headers and body), ms; default 30000. */
  requestTimeoutMs?: number;
  /** How long an idle keep-alive connection stays open, ms; default 5000. */
  keepAliveTimeoutMs?: number;
  /**
   * Most requests one client may have queued or running at once; more get 429
   * (`ATTNODE_CLIENT_QUEUE_FULL`). Default: no limit per client (the pool's maxQueue still holds).
   */
  maxQueuePerClient?: number;
  /** Who a client is for maxQueuePerClient: its remote address (default) or its bearer token. */
  clientIdentity?: ClientIdentity;
}

/** The defaults of createServer's limits and timeouts. */
export const SERVER_DEFAULTS = { maxConnections: 2048, headersTimeoutMs: 10_000, requestTimeoutMs: 30_000, keepAliveTimeoutMs: 5000, bodyLimit: 1 << 20 } as const;

/**
 * How often Node checks connections against the header and request timeouts, ms (its default is
 * 30 s). Often enough that connections opened in one burst expire over several checks, not all
 * in one (closing 500 at once held the event loop for up to 90 ms on a loaded 2-core machine).
 */
const CONNECTION_CHECK_MS = 200;

/** What the process running a server controls: readiness, drain, and the pool (reload). */
export interface ServerHandle {
  /** Swaps the pool new requests go to; returns the old one (its running requests finish on it). */
  setPool(pool: InferencePool): InferencePool;
  /** Readiness turns false and stays so: the server is shutting down. */
  startDrain(): void;
  readonly context: ServerContext;
}

export type AttnodeServer = FastifyInstance & { attnode: ServerHandle };

function positiveMs(name: string, v: number | undefined, fallback: number): number {
  const ms = v ?? fallback;
  if (!(Number.isInteger(ms) && ms > 0 && ms <= 2 ** 31 - 1)) throw new RangeError(`createServer: '${name}' must be an integer in [1, 2147483647] ms, got ${String(v)}`);
  return ms;
}

export function createServer(options: ServerOptions): AttnodeServer {
  let pool = options.pool;
  const modelName = options.modelName ?? 'attnode';
  const headersTimeout = positiveMs('headersTimeoutMs', options.headersTimeoutMs, SERVER_DEFAULTS.headersTimeoutMs);
  const requestTimeout = positiveMs('requestTimeoutMs', options.requestTimeoutMs, SERVER_DEFAULTS.requestTimeoutMs);
  const keepAliveTimeout = positiveMs('keepAliveTimeoutMs', options.keepAliveTimeoutMs, SERVER_DEFAULTS.keepAliveTimeoutMs);
  if (headersTimeout > requestTimeout) throw new RangeError(`createServer: 'headersTimeoutMs' (${headersTimeout}) must not exceed 'requestTimeoutMs' (${requestTimeout})`);
  const maxConnections = options.maxConnections ?? SERVER_DEFAULTS.maxConnections;
  if (!(Number.isInteger(maxConnections) && maxConnections >= 1)) throw new RangeError(`createServer: 'maxConnections' must be an integer >= 1, got ${String(options.maxConnections)}`);
  if (options.apiKey !== undefined && (typeof options.apiKey !== 'string' || options.apiKey.length === 0))
    throw new TypeError("createServer: 'apiKey' must be a non-empty string");

  const maxQueuePerClient = checkClientLimit(options.maxQueuePerClient);
  const clientIdentity = options.clientIdentity ?? 'address';
  if (!CLIENT_IDENTITIES.includes(clientIdentity)) throw new RangeError(`createServer: 'clientIdentity' must be one of ${CLIENT_IDENTITIES.join(', ')}, got ${String(options.clientIdentity)}`);

  let status: ReturnType<ServerContext['state']> = { status: 'loading' };
  const watchReady = (p: InferencePool) =>
    p.ready().then(
      () => {
        if (status.status !== 'draining' && p === pool) status = { status: 'ready' };
      },
      (e: unknown) => {
        if (status.status !== 'draining' && p === pool) status = { status: 'failed', error: e instanceof Error ? e.message : String(e) };
      },
    );
  void watchReady(pool);
  const metrics = new ServerMetrics();
  const context: ServerContext = { pool: () => pool, modelName, metrics, state: () => status };

  const app = Fastify({
    logger: options.logger ?? false,
    bodyLimit: options.bodyLimit ?? SERVER_DEFAULTS.bodyLimit,
    requestTimeout,
    keepAliveTimeout,
    // Node's own timeouts, checked every CONNECTION_CHECK_MS: a client trickling its headers or
    // body a byte at a time is cut off after headersTimeout / requestTimeout, not never.
    serverFactory: (handler) => {
      const server = http.createServer({ headersTimeout, requestTimeout, keepAliveTimeout, connectionsCheckingInterval: CONNECTION_CHECK_MS }, handler);
      server.maxConnections = maxConnections;
      return server;
    },
    ajv: { customOptions: { allErrors: false, coerceTypes: false, removeAdditional: false } },
    schemaErrorFormatter: schemaError,
  });

  if (options.allowedHosts?.length) app.addHook('onRequest', hostCheck(options.allowedHosts));
  if (options.apiKey !== undefined) app.addHook('onRequest', apiKeyCheck(options.apiKey));
  // After the key check: a refused caller holds no place in its client's count.
  if (maxQueuePerClient !== undefined) app.addHook('onRequest', clientLimit(maxQueuePerClient, clientIdentity, metrics));
  app.addHook('onResponse', async (req, reply) => {
    metrics.request(req.routeOptions.url ?? 'unmatched', req.method, reply.statusCode);
  });

  app.setErrorHandler((err: Error & { statusCode?: number; validation?: FastifySchemaValidationError[] }, _req, reply) => {
    const code = err.statusCode ?? 500;
    if (err.validation || (code >= 400 && code < 500))
      return reply.code(code).send(errorBody(err.message, 'invalid_request_error', null, err.validation ? schemaParam(err.validation) : null));
    return sendError(reply, err);
  });
  app.setNotFoundHandler((req, reply) => reply.code(404).send(errorBody(`no route for ${req.method} ${req.url}`, 'invalid_request_error')));

  for (const routes of ROUTES) routes(app, context);

  app.addHook('onClose', async () => {
    await pool.close({ mode: 'cancel' });
  });

  const handle: ServerHandle = {
    setPool(next) {
      const old = pool;
      pool = next;
      if (status.status !== 'draining') status = { status: 'loading' };
      void watchReady(next);
      return old;
    },
    startDrain() {
      status = { status: 'draining' };
    },
    context,
  };
  return Object.assign(app, { attnode: handle });
}
