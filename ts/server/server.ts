// `attnode serve`: an OpenAI-compatible HTTP API over an InferencePool (Fastify). Completions
// and chat completions, streamed as server-sent events when asked; /health and /metrics. A
// client that disconnects cancels its request.

import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest, type FastifySchemaValidationError } from 'fastify';
import { randomUUID } from 'node:crypto';
import { PoolClosedError, QueueFullError, RequestTimeoutError } from '../scheduler/errors.js';
import type { InferencePool, PoolResult, RequestOptions, StreamChunk } from '../scheduler/pool.js';
import type { ChatMessage } from '../scheduler/protocol.js';
import { GENERATION_FIELDS, chatBody, completionBody, schemaError, schemaParam } from './schemas.js';

export interface ServerOptions {
  pool: InferencePool;
  /** Name reported in responses' `model` field. */
  modelName?: string;
  /** Largest accepted request body in bytes; default 1 MiB. */
  bodyLimit?: number;
  /** Fastify's logger; default off. */
  logger?: boolean;
}

/** A body's generation fields (GENERATION_FIELDS, checked by the schema) and the rest. */
interface SamplingBody {
  stream?: boolean;
  model?: string;
  [field: string]: unknown;
}

interface CompletionBody extends SamplingBody {
  prompt: string | string[];
  echo?: boolean;
}

interface ChatBody extends SamplingBody {
  messages: ChatMessage[];
}

/** OpenAI's default max_tokens for completions. */
const DEFAULT_MAX_TOKENS = 16;

/** A body's snake_case fields as the pool's generation options; the pool checks every value as it queues. */
function requestOptions(body: SamplingBody, signal: AbortSignal): RequestOptions {
  const o: Record<string, unknown> = { maxTokens: DEFAULT_MAX_TOKENS };
  for (const [field, { option }] of Object.entries(GENERATION_FIELDS)) if (body[field] !== undefined) o[option] = body[field];
  // OpenAI takes one stop string or a list; the generation options take a list.
  if (typeof o.stop === 'string') o.stop = [o.stop];
  return { ...(o as RequestOptions), signal };
}

const FIELD_OF_OPTION = new Map<string, string>(Object.entries(GENERATION_FIELDS).map(([field, { option }]) => [option, field]));

/** An option error's message with the option named as the client spelled it, and that field. */
function asFieldError(message: string): { message: string; param: string | null } {
  let param: string | null = null;
  const renamed = message.replace(/'([A-Za-z]+)(?=['[])/g, (whole, option: string) => {
    const field = FIELD_OF_OPTION.get(option);
    if (field === undefined) return whole;
    param ??= field;
    return `'${field}`;
  });
  return { message: renamed, param };
}

function finishReason(r: PoolResult): 'stop' | 'length' | null {
  if (r.finishReason === 'length') return 'length';
  if (r.finishReason === 'eos' || r.finishReason === 'stop') return 'stop';
  return null;
}

function usage(r: PoolResult) {
  return { prompt_tokens: r.promptTokens, completion_tokens: r.ids.length, total_tokens: r.promptTokens + r.ids.length };
}

function errorBody(message: string, type: string, code: string | null = null, param: string | null = null) {
  return { error: { message, type, param, code } };
}

/** Maps scheduler errors to HTTP statuses. */
function sendError(reply: FastifyReply, err: unknown): FastifyReply {
  if (err instanceof QueueFullError) return reply.code(429).send(errorBody(err.message, 'rate_limit_error', err.code));
  if (err instanceof PoolClosedError) return reply.code(503).send(errorBody(err.message, 'server_error', err.code));
  if (err instanceof RequestTimeoutError) return reply.code(504).send(errorBody(err.message, 'timeout_error', err.code));
  if (err instanceof TypeError || err instanceof RangeError) {
    const { message, param } = asFieldError(err.message);
    return reply.code(400).send(errorBody(message, 'invalid_request_error', null, param));
  }
  return reply.code(500).send(errorBody(err instanceof Error ? err.message : String(err), 'server_error'));
}

/** An AbortSignal that fires when the client goes away before the response is complete. */
function disconnectSignal(req: FastifyRequest, reply: FastifyReply): AbortSignal {
  const controller = new AbortController();
  reply.raw.on('close', () => {
    if (!reply.raw.writableFinished) controller.abort();
  });
  req.raw.on('aborted', () => controller.abort());
  return controller.signal;
}

export function createServer(options: ServerOptions): FastifyInstance {
  const { pool } = options;
  const modelName = options.modelName ?? 'attnode';
  const app = Fastify({
    logger: options.logger ?? false,
    bodyLimit: options.bodyLimit ?? 1 << 20,
    ajv: { customOptions: { allErrors: false, coerceTypes: false, removeAdditional: false } },
    schemaErrorFormatter: schemaError,
  });

  app.setErrorHandler((err: Error & { statusCode?: number; validation?: FastifySchemaValidationError[] }, _req, reply) => {
    const status = err.statusCode ?? 500;
    if (err.validation || (status >= 400 && status < 500))
      return reply.code(status).send(errorBody(err.message, 'invalid_request_error', null, err.validation ? schemaParam(err.validation) : null));
    return sendError(reply, err);
  });
  app.setNotFoundHandler((req, reply) => reply.code(404).send(errorBody(`no route for ${req.method} ${req.url}`, 'invalid_request_error')));

  app.get('/health', async () => ({ status: 'ok', model: modelName }));
  app.get('/metrics', async () => pool.metrics());

  const streamSse = async (
    reply: FastifyReply,
    stream: AsyncIterable<StreamChunk> & { result: Promise<PoolResult> },
    frame: (delta: string, finish: 'stop' | 'length' | null, first: boolean) => object,
  ): Promise<void> => {
    reply.hijack();
    const res = reply.raw;
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive' });
    const send = (obj: object | string) => res.write(`data: ${typeof obj === 'string' ? obj : JSON.stringify(obj)}\n\n`);
    let first = true;
    try {
      for await (const chunk of stream) {
        if (res.destroyed) break;
        send(frame(chunk.text, null, first));
        first = false;
      }
      const result = await stream.result;
      if (!res.destroyed) {
        send(frame('', finishReason(result), first));
        send('[DONE]');
      }
    } catch (err) {
      if (!res.destroyed) send({ error: { message: err instanceof Error ? err.message : String(err), type: 'server_error' } });
    } finally {
      res.end();
    }
  };

  app.post<{ Body: CompletionBody }>('/v1/completions', { schema: { body: completionBody } }, async (req, reply) => {
    const body = req.body;
    const prompt = Array.isArray(body.prompt) ? body.prompt[0]! : body.prompt;
    const id = `cmpl-${randomUUID()}`;
    const created = Math.floor(Date.now() / 1000);
    const opts = requestOptions(body, disconnectSignal(req, reply));
    const frame = (text: string, finish: 'stop' | 'length' | null) => ({
      id, object: 'text_completion', created, model: modelName, choices: [{ text, index: 0, logprobs: null, finish_reason: finish }],
    });
    if (body.stream) return streamSse(reply, pool.stream(prompt, opts), frame);
    try {
      const r = await pool.generate(prompt, opts);
      return { ...frame((body.echo ? prompt : '') + r.text, finishReason(r)), usage: usage(r) };
    } catch (err) {
      return sendError(reply, err);
    }
  });

  app.post<{ Body: ChatBody }>('/v1/chat/completions', { schema: { body: chatBody } }, async (req, reply) => {
    const body = req.body;
    const messages = body.messages.map((m) => ({ role: m.role, content: m.content }));
    const id = `chatcmpl-${randomUUID()}`;
    const created = Math.floor(Date.now() / 1000);
    const opts = requestOptions(body, disconnectSignal(req, reply));
    if (body.stream) {
      return streamSse(reply, pool.streamChat(messages, opts), (text, finish, first) => ({
        id, object: 'chat.completion.chunk', created, model: modelName,
        choices: [{ index: 0, delta: finish !== null && !text ? {} : first ? { role: 'assistant', content: text } : { content: text }, finish_reason: finish }],
      }));
    }
    try {
      const r = await pool.chat(messages, opts);
      return {
        id, object: 'chat.completion', created, model: modelName,
        choices: [{ index: 0, message: { role: 'assistant', content: r.text }, finish_reason: finishReason(r) }],
        usage: usage(r),
      };
    } catch (err) {
      return sendError(reply, err);
    }
  });

  app.addHook('onClose', async () => {
    await pool.close({ mode: 'cancel' });
  });
  return app;
}
