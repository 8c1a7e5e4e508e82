// The OpenAI-compatible generation routes: /v1/completions and /v1/chat/completions, answered
// whole or streamed as server-sent events. A stream's headers go out with its first token, so
// every error known before then (bad options, full queue, prompt too long, timeout) keeps its
// HTTP status; only errors after it arrive as an error frame. A client that disconnects cancels.

import { randomUUID } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { PoolResult, RequestOptions, StreamChunk } from '../../scheduler/pool.js';
import type { ChatMessage, ChatToolCall } from '../../generate/chat.js';
import type { RouteModule, ServerContext } from '../context.js';
import { errorBody, errorResponse, sendError } from '../errors.js';
import { GENERATION_FIELDS, chatBody, completionBody } from '../schemas.js';

/** A body's generation fields (GENERATION_FIELDS, checked by the schema) and the rest. */
interface SamplingBody {
  stream?: boolean;
  model?: string;
  [field: string]: unknown;
}

interface CompletionBody extends SamplingBody {
  prompt: string | string[] | number[] | number[][];
  echo?: boolean;
  n?: number;
  best_of?: number;
}

interface ChatBody extends SamplingBody {
  messages: (Omit<ChatMessage, 'content' | 'tool_calls'> & { content?: string | null; tool_calls?: ChatToolCall[] })[];
  tools?: Record<string, unknown>[];
  tool_choice?: 'auto' | 'none';
}

/**
 * A chat body's messages as the chat template reads them, as Hugging Face's apply_chat_template
 * takes them: OpenAI's tool-call `arguments` (a JSON text) become the object templates print with
 * tojson; content may be null only beside tool calls. Throws a TypeError naming the field.
 */
function chatMessages(body: ChatBody): ChatMessage[] {
  return body.messages.map((m, i) => {
    const calls = m.tool_calls?.map((c, j) => {
      const a = c.function.arguments;
      if (typeof a !== 'string') return c;
      let parsed: unknown;
      try {
        parsed = JSON.parse(a);
      } catch {
        throw new TypeError(`'messages[${i}].tool_calls[${j}].function.arguments' must be a JSON object text, got ${JSON.stringify(a.slice(0, 40))}`);
      }
      if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
        throw new TypeError(`'messages[${i}].tool_calls[${j}].function.arguments' must be a JSON object text`);
      return { ...c, function: { ...c.function, arguments: parsed as Record<string, unknown> } };
    });
    const content = m.content ?? null;
    if (content === null && !(m.role === 'assistant' && calls !== undefined && calls.length > 0))
      throw new TypeError(`'messages[${i}].content' must be a string (only an assistant message with tool_calls may leave it null)`);
    return { ...m, content, ...(calls !== undefined ? { tool_calls: calls } : {}) };
  });
}

type Finish = 'stop' | 'length' | null;
type Stream = AsyncIterable<StreamChunk> & { result: Promise<PoolResult> };

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

/**
 * A completion body's `n` and `best_of`: `best_of` is the beam width (the same as `num_beams`) and
 * `n` the beams returned (numReturnSequences); without beams, `n` sampled completions (OpenAI's
 * meaning), which share the prompt's pass and batch their steps (numBeams 1 over the checkpoint's
 * default). A TypeError/RangeError names the field otherwise.
 */
function choiceOptions(body: CompletionBody): { n: number; options: Partial<RequestOptions> } {
  const n = body.n ?? 1;
  const given = body.num_beams;
  if (body.best_of !== undefined && given !== undefined && body.best_of !== given)
    throw new RangeError(`'best_of' (${body.best_of}) and 'num_beams' (${String(given)}) both set the beam width; give one, or the same value`);
  const beams = body.best_of ?? (typeof given === 'number' ? given : undefined);
  if (beams !== undefined && beams > 1 && beams < n) throw new RangeError(`'n' = ${n} needs at least as many beams: 'best_of' (or 'num_beams') is ${beams}`);
  const sampled = n > 1 && (beams === undefined || beams === 1);
  if (sampled && body.temperature === 0)
    throw new RangeError(`'n' = ${n} samples ${n} completions; with 'temperature' 0 they would be the same: give 'temperature' > 0, or 'best_of' >= ${n} for beams`);
  if (sampled) return { n, options: { numBeams: 1, numReturnSequences: n } };
  return { n, options: { ...(beams !== undefined ? { numBeams: beams } : {}), ...(n > 1 ? { numReturnSequences: n } : {}) } };
}

/** The choices after the first (the first is the result's own text): a beam request's next best, or the other samples. */
function otherChoices(r: PoolResult, n: number): { text: string; index: number; finish: Finish }[] {
  return (r.sequences ?? []).slice(1, n).map((q, i) => ({ text: q.text, index: i + 1, finish: q.finishReason === 'eos' || q.finishReason === 'stop' ? 'stop' : q.finishReason === 'length' ? 'length' : null }));
}

/** A completion body's prompt as the pool takes it: text, or token ids. */
function promptOf(p: CompletionBody['prompt']): string | number[] {
  if (typeof p === 'string') return p;
  const first = p[0]!;
  if (typeof first === 'string') return first;
  if (Array.isArray(first)) return first;
  return p as number[];
}

function finishReason(r: PoolResult): Finish {
  if (r.finishReason === 'length') return 'length';
  if (r.finishReason === 'eos' || r.finishReason === 'stop') return 'stop';
  return null;
}

function usage(r: PoolResult) {
  return { prompt_tokens: r.promptTokens, completion_tokens: r.ids.length, total_tokens: r.promptTokens + r.ids.length };
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

/** Records a whole (not streamed) result: its tokens, time to first token and mean gap. */
function recordWhole(ctx: ServerContext, r: PoolResult): void {
  const n = r.ids.length;
  const gap = n > 1 ? (r.timings.totalMs - r.timings.timeToFirstTokenMs) / (n - 1) / 1000 : undefined;
  ctx.metrics.generation(n, n > 0 ? r.timings.timeToFirstTokenMs / 1000 : undefined, gap === undefined ? [] : new Array<number>(n - 1).fill(gap));
}

/**
 * Streams as server-sent events. The first chunk (or the first error) is awaited before the
 * headers are written: a request refused or failed before its first token gets its status code.
 */
async function streamSse(
  ctx: ServerContext, reply: FastifyReply, stream: Stream, frame: (delta: string, finish: Finish, first: boolean) => object,
  /** Frames sent after the first choice's last one (a beam request's other choices, whole). */
  tail: (r: PoolResult) => object[] = () => [],
): Promise<void> {
  const started = performance.now();
  const it = stream[Symbol.asyncIterator]();
  let head: IteratorResult<StreamChunk>;
  try {
    head = await it.next();
  } catch (err) {
    return void sendError(reply, err);
  }
  reply.hijack();
  const res = reply.raw;
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive' });
  const send = (obj: object | string) => res.write(`data: ${typeof obj === 'string' ? obj : JSON.stringify(obj)}\n\n`);
  const gaps: number[] = [];
  let last = performance.now();
  const ttft = head.done ? undefined : (last - started) / 1000;
  let tokens = 0;
  let first = true;
  try {
    for (let next = head; !next.done; next = await it.next()) {
      const now = performance.now();
      if (tokens > 0) gaps.push((now - last) / 1000);
      last = now;
      tokens++;
      if (res.destroyed) break;
      send(frame(next.value.text, null, first));
      first = false;
    }
    if (res.destroyed) await it.return?.();
    const result = await stream.result;
    if (!res.destroyed) {
      send(frame('', finishReason(result), first));
      for (const f of tail(result)) send(f);
      send('[DONE]');
    }
  } catch (err) {
    // After the headers: the status is 200 already, so the error goes in a frame, then [DONE].
    if (!res.destroyed) {
      send(errorResponse(err).body);
      send('[DONE]');
    }
  } finally {
    ctx.metrics.generation(tokens, ttft, gaps);
    res.end();
  }
}

export const generationRoutes: RouteModule = (app, ctx) => {
  app.post<{ Body: CompletionBody }>('/v1/completions', { schema: { body: completionBody } }, async (req, reply) => {
    const body = req.body;
    const prompt = promptOf(body.prompt);
    if (body.echo && typeof prompt !== 'string')
      return reply.code(400).send(errorBody("'echo' needs a text prompt; this one is token ids", 'invalid_request_error', null, 'echo'));
    let choices: ReturnType<typeof choiceOptions>;
    try {
      choices = choiceOptions(body);
    } catch (err) {
      return sendError(reply, err);
    }
    const id = `cmpl-${randomUUID()}`;
    const created = Math.floor(Date.now() / 1000);
    const opts = { ...requestOptions(body, disconnectSignal(req, reply)), ...choices.options };
    const choice = (text: string, finish: Finish, index = 0) => ({ text, index, logprobs: null, finish_reason: finish });
    const frame = (text: string, finish: Finish) => ({ id, object: 'text_completion', created, model: ctx.modelName, choices: [choice(text, finish)] });
    const pool = ctx.pool();
    // With beams the search ends before the first token: choice 0 (the best) then streams, final,
    // and the other choices follow whole, one frame each, before [DONE]. Sampled choices: choice 0
    // streams as it is sampled, the others follow whole.
    const tail = (r: PoolResult) => otherChoices(r, choices.n).map((c) => ({ ...frame('', null), choices: [choice(c.text, c.finish, c.index)] }));
    if (body.stream) return streamSse(ctx, reply, pool.stream(prompt, opts), frame, tail);
    try {
      const r = await pool.generate(prompt, opts);
      recordWhole(ctx, r);
      const echo = body.echo ? (prompt as string) : '';
      const rest = otherChoices(r, choices.n).map((c) => choice(echo + c.text, c.finish, c.index));
      const completionTokens = (r.sequences ?? []).slice(0, choices.n).reduce((a, q) => a + q.ids.length, 0) || r.ids.length;
      return {
        ...frame(echo + r.text, finishReason(r)),
        ...(rest.length > 0 ? { choices: [choice(echo + r.text, finishReason(r)), ...rest] } : {}),
        usage: { ...usage(r), completion_tokens: completionTokens, total_tokens: r.promptTokens + completionTokens },
      };
    } catch (err) {
      return sendError(reply, err);
    }
  });

  app.post<{ Body: ChatBody }>('/v1/chat/completions', { schema: { body: chatBody } }, async (req, reply) => {
    const body = req.body;
    let messages: ChatMessage[];
    try {
      messages = chatMessages(body);
    } catch (err) {
      return sendError(reply, err);
    }
    const id = `chatcmpl-${randomUUID()}`;
    const created = Math.floor(Date.now() / 1000);
    const tools = body.tools !== undefined && body.tool_choice !== 'none' ? body.tools : undefined;
    const opts = { ...requestOptions(body, disconnectSignal(req, reply)), ...(tools !== undefined ? { tools } : {}) };
    const pool = ctx.pool();
    if (body.stream) {
      return streamSse(ctx, reply, pool.streamChat(messages, opts), (text, finish, first) => ({
        id, object: 'chat.completion.chunk', created, model: ctx.modelName,
        choices: [{ index: 0, delta: finish !== null && !text ? {} : first ? { role: 'assistant', content: text } : { content: text }, finish_reason: finish }],
      }));
    }
    try {
      const r = await pool.chat(messages, opts);
      recordWhole(ctx, r);
      return {
        id, object: 'chat.completion', created, model: ctx.modelName,
        choices: [{ index: 0, message: { role: 'assistant', content: r.text }, finish_reason: finishReason(r) }],
        usage: usage(r),
      };
    } catch (err) {
      return sendError(reply, err);
    }
  });
};
