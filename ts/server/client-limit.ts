// The most requests one client may have queued or running at once (issue #23): without it one
// client can fill the whole queue and every other client gets 429s. Not the global queue bound
// (the pool's maxQueue) and not a rate limit over time.

import { createHash } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { errorBody } from './errors.js';
import type { ServerMetrics } from './prometheus.js';

/** How a request's client is told apart from the others. */
export type ClientIdentity = 'address' | 'api-key';
export const CLIENT_IDENTITIES: readonly ClientIdentity[] = ['address', 'api-key'];

/**
 * The client a request counts against: its remote address, or with 'api-key' the bearer token
 * it sends (hashed, never kept as given), falling back to the address when it sends none.
 */
export function clientOf(req: FastifyRequest, by: ClientIdentity): string {
  if (by === 'api-key') {
    const h = req.headers.authorization;
    if (typeof h === 'string' && /^bearer /i.test(h)) return `key:${createHash('sha256').update(h.slice(7).trim()).digest('base64url')}`;
  }
  return `addr:${req.socket.remoteAddress ?? 'unknown'}`;
}

/**
 * An onRequest hook for the routes that reach the pool (every POST): a client past `limit`
 * requests in flight gets 429 in OpenAI's error shape, naming the limit. A request counts from
 * its arrival until its response is finished or its connection closes.
 */
export function clientLimit(limit: number, by: ClientIdentity, metrics: ServerMetrics) {
  const inFlight = new Map<string, number>();
  return async (req: FastifyRequest, reply: FastifyReply): Promise<void> => {
    if (req.method !== 'POST' || req.routeOptions.url === undefined) return;
    const client = clientOf(req, by);
    const n = inFlight.get(client) ?? 0;
    if (n >= limit) {
      metrics.clientQueueFull();
      const message = `this client already has ${n} requests queued or running, the most allowed per client (max-queue-per-client = ${limit}); retry when one has finished`;
      await reply.code(429).header('retry-after', '1').send(errorBody(message, 'rate_limit_error', 'ATTNODE_CLIENT_QUEUE_FULL'));
      return;
    }
    inFlight.set(client, n + 1);
    let done = false;
    // 'close' comes once per response: finished, hijacked for a stream and ended, or cut off.
    reply.raw.once('close', () => {
      if (done) return;
      done = true;
      const left = (inFlight.get(client) ?? 1) - 1;
      if (left <= 0) inFlight.delete(client);
      else inFlight.set(client, left);
    });
  };
}

/** Reads a limit given as an option: a positive integer, or undefined for none. */
export function checkClientLimit(v: unknown): number | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) throw new RangeError(`createServer: 'maxQueuePerClient' must be an integer >= 1, got ${String(v)}`);
  return v;
}
