// How the server's failures look on the wire: OpenAI's error body { error: { message, type,
// param, code } }, the HTTP status of each error a request can raise, and the field it names.

import type { FastifyReply } from 'fastify';
import { ModelFileChangedError } from '../io/files.js';
import { PoolClosedError, QueueFullError, RequestTimeoutError, WorkerCrashedError } from '../scheduler/errors.js';
import { GENERATION_FIELDS, KNOWN_FIELDS } from './schemas.js';

export interface ErrorBody {
  error: { message: string; type: string; param: string | null; code: string | null };
}

export function errorBody(message: string, type: string, code: string | null = null, param: string | null = null): ErrorBody {
  return { error: { message, type, param, code } };
}

/** Each error class the pool raises, its status and OpenAI error type; first match wins. */
const STATUS_TABLE: readonly { is: (e: unknown) => boolean; status: number; type: string }[] = [
  { is: (e) => e instanceof QueueFullError, status: 429, type: 'rate_limit_error' },
  { is: (e) => e instanceof PoolClosedError, status: 503, type: 'server_error' },
  { is: (e) => e instanceof ModelFileChangedError, status: 503, type: 'server_error' },
  { is: (e) => e instanceof RequestTimeoutError, status: 504, type: 'timeout_error' },
  { is: (e) => e instanceof WorkerCrashedError, status: 500, type: 'server_error' },
  { is: (e) => e instanceof TypeError || e instanceof RangeError, status: 400, type: 'invalid_request_error' },
  // The chat template's raise_exception (roles out of order, an unsupported role): the conversation's fault.
  { is: (e) => e instanceof Error && e.name === 'ChatTemplateError', status: 400, type: 'invalid_request_error' },
];

const FIELD_OF_OPTION = new Map<string, string>(Object.entries(GENERATION_FIELDS).map(([field, { option }]) => [option, field]));
const BODY_FIELDS = new Set<string>(KNOWN_FIELDS);

/**
 * An option error's message with the option named as the client spelled it, and that field
 * (OpenAI's `param`): the first quoted name that is a generation option or a body field.
 */
export function asFieldError(message: string): { message: string; param: string | null } {
  let param: string | null = null;
  const renamed = message.replace(/'([A-Za-z_]+)(?=['[])/g, (whole, name: string) => {
    const field = FIELD_OF_OPTION.get(name) ?? (BODY_FIELDS.has(name) ? name : undefined);
    if (field === undefined) return whole;
    param ??= field;
    return `'${field}`;
  });
  return { message: renamed, param };
}

/** The status and body for an error raised while serving a request. */
export function errorResponse(err: unknown): { status: number; body: ErrorBody } {
  const row = STATUS_TABLE.find((r) => r.is(err));
  const message = err instanceof Error ? err.message : String(err);
  const code = typeof (err as { code?: unknown } | null)?.code === 'string' ? (err as { code: string }).code : null;
  if (!row) return { status: 500, body: errorBody(message, 'server_error', code) };
  if (row.status !== 400) return { status: row.status, body: errorBody(message, row.type, code) };
  const named = asFieldError(message);
  return { status: 400, body: errorBody(named.message, row.type, code, named.param) };
}

export function sendError(reply: FastifyReply, err: unknown): FastifyReply {
  const { status, body } = errorResponse(err);
  return reply.code(status).send(body);
}
