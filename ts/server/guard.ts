// Who may call the server: the API key (a bearer token, compared in constant time) on every
// route but /health, and an optional allow-list of Host headers against DNS rebinding.

import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { errorBody } from './errors.js';

/** Routes open to every caller: orchestrators probe them without credentials. */
const OPEN_ROUTES = new Set(['/health', '/health/live', '/health/ready']);

/** Whether the route a request matched is open: by the matched route, not the raw URL (no `/health/../`). */
export function isOpenRoute(req: FastifyRequest): boolean {
  const route = req.routeOptions.url;
  return route !== undefined && OPEN_ROUTES.has(route);
}

const digest = (s: string) => createHash('sha256').update(s).digest();

/**
 * An onRequest check of `Authorization: Bearer <key>`. Both sides are hashed first, so the
 * comparison takes the same time whatever the length or content of what the client sent.
 */
export function apiKeyCheck(apiKey: string) {
  const want = digest(apiKey);
  return async (req: FastifyRequest, reply: FastifyReply): Promise<void> => {
    if (isOpenRoute(req)) return;
    const header = req.headers.authorization;
    const given = typeof header === 'string' && /^bearer /i.test(header) ? header.slice(7).trim() : undefined;
    if (given !== undefined && timingSafeEqual(digest(given), want)) return;
    const message = given === undefined
      ? "You didn't provide an API key. Provide it in the Authorization header as 'Bearer YOUR_KEY'."
      : 'Incorrect API key provided.';
    await reply.code(401).header('www-authenticate', 'Bearer').send(errorBody(message, 'invalid_request_error', 'invalid_api_key'));
  };
}

/** The host name of a Host header: without its port, brackets kept off an IPv6 literal, lower case. */
export function hostName(header: string): string {
  const h = header.trim().toLowerCase();
  if (h.startsWith('[')) return h.slice(1, h.indexOf(']') > 0 ? h.indexOf(']') : undefined);
  const colon = h.lastIndexOf(':');
  return colon >= 0 && h.indexOf(':') === colon ? h.slice(0, colon) : h;
}

/** An onRequest check that the Host header names one of `allowed` (host names, no ports). */
export function hostCheck(allowed: readonly string[]) {
  const hosts = new Set(allowed.map((h) => hostName(h)));
  return async (req: FastifyRequest, reply: FastifyReply): Promise<void> => {
    if (isOpenRoute(req)) return;
    const host = req.headers.host;
    if (typeof host === 'string' && hosts.has(hostName(host))) return;
    await reply
      .code(403)
      .send(errorBody(`Host '${String(host ?? '')}' is not allowed; this server answers for ${[...hosts].join(', ')}`, 'invalid_request_error', 'host_not_allowed'));
  };
}
