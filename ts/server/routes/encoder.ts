// The encoder routes: POST /v1/embeddings (OpenAI's shape, float or base64 vectors) and POST
// /v1/rerank (with llama.cpp's aliases /rerank, /reranking, /v1/reranking), and the check that
// sends a 400 naming why when a route needs the other kind of model than the server loaded.

import type { FastifyReply, FastifyRequest } from 'fastify';
import type { EncoderTaskName, ModelInfo } from '../../scheduler/encoder-requests.js';
import type { RouteModule, ServerContext } from '../context.js';
import { errorBody, errorResponse } from '../errors.js';
import { FieldError, base64Floats, checkRerank, embeddingInputs, embeddingsBody, rerankBody, type EmbeddingsBody, type RerankBody } from '../encoder-schemas.js';

/** Paths of the rerank route: llama.cpp's server answers all four. */
export const RERANK_PATHS = ['/v1/rerank', '/rerank', '/reranking', '/v1/reranking'] as const;

type Need = EncoderTaskName | 'generate';

/** The task each model-specific route needs; routes not listed serve any model. */
const ROUTE_NEEDS: Readonly<Record<string, Need>> = {
  '/v1/completions': 'generate',
  '/v1/chat/completions': 'generate',
  '/v1/embeddings': 'embed',
  ...Object.fromEntries(RERANK_PATHS.map((p) => [p, 'rerank'])),
};

/** The routes offering each task (for the message telling a client where to go instead). */
const TASK_ROUTES: Readonly<Record<Need, string>> = {
  generate: '/v1/completions and /v1/chat/completions',
  embed: '/v1/embeddings',
  rerank: '/v1/rerank',
  classify: 'no HTTP route yet',
};

/** What each task needs of the model, said in a client's terms. */
const TASK_NEEDS: Readonly<Record<Need, string>> = {
  generate: 'a decoder (generative) model',
  embed: 'an encoder (embedding) model',
  rerank: 'a cross-encoder (an encoder with a sequence classification head)',
  classify: 'an encoder with a sequence classification head',
};

/** The body fields the pool's option names stand for in this API's terms. */
const FIELD_OF = new Map<string, string>([['texts', 'input'], ['documents', 'documents'], ['query', 'query'], ['topN', 'top_n'], ['truncate', 'truncate']]);

function offers(info: ModelInfo): readonly Need[] {
  return info.kind === 'encoder' ? (info.tasks ?? ['embed']) : ['generate'];
}

/** The 400 for a route the model cannot serve, or undefined when it can. */
function wrongRoute(path: string, need: Need, info: ModelInfo, modelName: string): string | undefined {
  const has = offers(info);
  if (has.includes(need)) return undefined;
  const what = `${info.kind === 'decoder' ? 'a decoder' : `an ${info.kind}`}${info.architecture ? ` (${info.architecture})` : ''}`;
  const routes = has.filter((t) => t !== 'classify').map((t) => TASK_ROUTES[t]);
  return `${path} needs ${TASK_NEEDS[need]}; this server's model '${modelName}' is ${what}, which it serves on ${routes.join(' and ') || 'no route'}`;
}

/**
 * A pool error in this API's terms: the status, and for a 400 the field it is about. `single`:
 * the body gave one input (a string or one id list), which the pool saw as item 0 of a list.
 */
function sendEncoderError(reply: FastifyReply, err: unknown, single = false): FastifyReply {
  if (err instanceof FieldError) return reply.code(400).send(errorBody(err.message, 'invalid_request_error', null, err.param));
  const { status, body } = errorResponse(err);
  if (status !== 400) return reply.code(status).send(body);
  let param: string | null = null;
  let message = body.error.message.replace(/'([A-Za-z_]+)(?=['[])/g, (whole, name: string) => {
    const field = FIELD_OF.get(name);
    if (field === undefined) return whole;
    param ??= field;
    return `'${field}`;
  });
  if (single) message = message.replace("'input[0]", "'input");
  return reply.code(400).send(errorBody(message, 'invalid_request_error', body.error.code, param ?? body.error.param));
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

export const encoderRoutes: RouteModule = (app, ctx: ServerContext) => {
  // Before body validation: a request to the wrong kind of server hears that first, whatever its body.
  app.addHook('preValidation', async (req, reply) => {
    const path = req.routeOptions.url;
    const need = path === undefined ? undefined : ROUTE_NEEDS[path];
    if (need === undefined) return;
    // A pool that failed to load answers with its own error in the handler.
    const info = await ctx.pool().modelInfo().catch(() => undefined);
    const why = info && wrongRoute(path!, need, info, ctx.modelName);
    if (why !== undefined) return reply.code(400).send(errorBody(why, 'invalid_request_error', 'model_not_supported', 'model'));
  });

  app.post<{ Body: EmbeddingsBody }>('/v1/embeddings', { schema: { body: embeddingsBody } }, async (req, reply) => {
    const body = req.body;
    const single = typeof body.input === 'string' || typeof body.input[0] === 'number';
    try {
      const inputs = embeddingInputs(body.input);
      if (body.dimensions !== undefined) {
        const { dimensions } = await ctx.pool().modelInfo();
        if (body.dimensions !== dimensions)
          throw new FieldError(`'dimensions' is ${body.dimensions}, but this model's embeddings have ${dimensions} and cannot be shortened (it was not trained for truncated vectors); omit 'dimensions' or pass ${dimensions}`, 'dimensions');
      }
      const r = await ctx.pool().embed(inputs, { truncate: body.truncate ?? false, signal: disconnectSignal(req, reply) });
      const base64 = body.encoding_format === 'base64';
      return {
        object: 'list',
        data: r.embeddings.map((v, index) => ({ object: 'embedding', index, embedding: base64 ? base64Floats(v) : Array.from(v) })),
        model: ctx.modelName,
        usage: { prompt_tokens: r.promptTokens, total_tokens: r.promptTokens },
      };
    } catch (err) {
      return sendEncoderError(reply, err, single);
    }
  });

  const rerank = async (req: FastifyRequest<{ Body: RerankBody }>, reply: FastifyReply) => {
    const body = req.body;
    try {
      checkRerank(body);
      const r = await ctx.pool().rerank(body.query, body.documents, {
        ...(body.top_n === undefined ? {} : { topN: body.top_n }), returnDocuments: body.return_documents ?? false,
        truncate: body.truncate ?? false, signal: disconnectSignal(req, reply),
      });
      return {
        model: ctx.modelName,
        results: r.results.map((x) => ({ index: x.index, relevance_score: x.score, ...(x.document === undefined ? {} : { document: { text: x.document } }) })),
        usage: { prompt_tokens: r.promptTokens, total_tokens: r.promptTokens },
      };
    } catch (err) {
      return sendEncoderError(reply, err);
    }
  };
  for (const path of RERANK_PATHS) app.post<{ Body: RerankBody }>(path, { schema: { body: rerankBody } }, rerank);
};
