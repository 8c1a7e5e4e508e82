// JSON schemas for the OpenAI-compatible request bodies, checked by Fastify before a handler runs,
// and the 400 message naming the field for a body that fails them. Not the mapping onto the pool.

import type { FastifySchemaValidationError } from 'fastify';
import type { GenerateOptions } from '../generate/options.js';
import { closestName } from '../util/names.js';

/**
 * The body fields that are generation options: each one's schema and the option it sets. The
 * handlers map a body through this table alone, so every field accepted here reaches the sampler.
 */
export const GENERATION_FIELDS = {
  max_tokens: { option: 'maxTokens', schema: { type: 'integer', minimum: 1, maximum: 4096 } },
  temperature: { option: 'temperature', schema: { type: 'number', minimum: 0, maximum: 2 } },
  top_p: { option: 'topP', schema: { type: 'number', exclusiveMinimum: 0, maximum: 1 } },
  top_k: { option: 'topK', schema: { type: 'integer', minimum: 0, maximum: 100_000 } },
  min_p: { option: 'minP', schema: { type: 'number', minimum: 0, maximum: 1 } },
  typical_p: { option: 'typicalP', schema: { type: 'number', exclusiveMinimum: 0, maximum: 1 } },
  presence_penalty: { option: 'presencePenalty', schema: { type: 'number', minimum: -2, maximum: 2 } },
  frequency_penalty: { option: 'frequencyPenalty', schema: { type: 'number', minimum: -2, maximum: 2 } },
  repetition_penalty: { option: 'repetitionPenalty', schema: { type: 'number', exclusiveMinimum: 0, maximum: 10 } },
  no_repeat_ngram_size: { option: 'noRepeatNgramSize', schema: { type: 'integer', minimum: 0, maximum: 64 } },
  // OpenAI's form: token id (a decimal string) -> bias in [-100, 100]; ids past the vocabulary are a 400 from the loop.
  logit_bias: {
    option: 'logitBias',
    schema: { type: 'object', maxProperties: 1024, propertyNames: { pattern: '^[0-9]{1,9}$' }, additionalProperties: { type: 'number', minimum: -100, maximum: 100 } },
  },
  seed: { option: 'seed', schema: { type: 'integer', minimum: 0, maximum: 4294967295 } },
  stop: {
    option: 'stop',
    schema: {
      anyOf: [
        { type: 'string', minLength: 1, maxLength: 256 },
        { type: 'array', maxItems: 4, items: { type: 'string', minLength: 1, maxLength: 256 } },
      ],
    },
  },
  bad_words: { option: 'badWords', schema: { type: 'array', maxItems: 64, items: { type: 'string', minLength: 1, maxLength: 256 } } },
  ignore_eos: { option: 'ignoreEos', schema: { type: 'boolean' } },
  // Beam search (not OpenAI's; as vLLM and HF name it): the best beam is the choice's text.
  num_beams: { option: 'numBeams', schema: { type: 'integer', minimum: 1, maximum: 16 } },
  length_penalty: { option: 'lengthPenalty', schema: { type: 'number', minimum: -10, maximum: 10 } },
  early_stopping: { option: 'earlyStopping', schema: { anyOf: [{ type: 'boolean' }, { const: 'never' }] } },
  min_tokens: { option: 'minNewTokens', schema: { type: 'integer', minimum: 0, maximum: 4096 } },
} as const satisfies Record<string, { option: keyof GenerateOptions; schema: object }>;

const sampling = {
  ...Object.fromEntries(Object.entries(GENERATION_FIELDS).map(([field, f]) => [field, f.schema])),
  stream: { type: 'boolean' },
  n: { type: 'integer', minimum: 1, maximum: 1 },
  model: { type: 'string', maxLength: 256 },
  user: { type: 'string', maxLength: 256 },
};

const tokenId = { type: 'integer', minimum: 0, maximum: 2147483647 } as const;

export const completionBody = {
  type: 'object',
  required: ['prompt'],
  additionalProperties: false,
  properties: {
    ...sampling,
    // Text, or token ids, as OpenAI's API takes them: a string, [string], [id, ...] or [[id, ...]].
    prompt: {
      anyOf: [
        { type: 'string', maxLength: 65536 },
        { type: 'array', minItems: 1, maxItems: 1, items: { type: 'string', maxLength: 65536 } },
        { type: 'array', minItems: 1, maxItems: 65536, items: tokenId },
        { type: 'array', minItems: 1, maxItems: 1, items: { type: 'array', minItems: 1, maxItems: 65536, items: tokenId } },
      ],
    },
    echo: { type: 'boolean' },
    logprobs: { type: ['integer', 'null'], minimum: 0, maximum: 0 },
    // 'best_of' is the beam width (as 'num_beams'), 'n' the beams returned, best first; without
    // beams, 'n' sampled completions. The route refuses n above a beam width > 1.
    n: { type: 'integer', minimum: 1, maximum: 16 },
    best_of: { type: 'integer', minimum: 1, maximum: 16 },
  },
} as const;

/** An assistant message's tool call, as OpenAI's API writes it (`arguments` a JSON text, or an object). */
const toolCall = {
  type: 'object',
  required: ['function'],
  additionalProperties: false,
  properties: {
    id: { type: 'string', maxLength: 256 },
    type: { enum: ['function'] },
    function: {
      type: 'object',
      required: ['name'],
      additionalProperties: false,
      properties: { name: { type: 'string', minLength: 1, maxLength: 256 }, arguments: { anyOf: [{ type: 'string', maxLength: 65536 }, { type: 'object' }] } },
    },
  },
} as const;

/** A function definition of `tools`, passed to the chat template as given. */
const tool = {
  type: 'object',
  required: ['type', 'function'],
  additionalProperties: false,
  properties: {
    type: { enum: ['function'] },
    function: {
      type: 'object',
      required: ['name'],
      additionalProperties: false,
      properties: {
        name: { type: 'string', minLength: 1, maxLength: 256 }, description: { type: 'string', maxLength: 65536 },
        parameters: { type: 'object' }, strict: { type: ['boolean', 'null'] },
      },
    },
  },
} as const;

export const chatBody = {
  type: 'object',
  required: ['messages'],
  additionalProperties: false,
  properties: {
    ...sampling,
    messages: {
      type: 'array',
      minItems: 1,
      maxItems: 256,
      items: {
        type: 'object',
        // content may be null (or absent) only on an assistant message with tool_calls; the route checks it.
        required: ['role'],
        additionalProperties: false,
        properties: {
          role: { enum: ['system', 'user', 'assistant', 'tool'] },
          content: { type: ['string', 'null'], maxLength: 65536 },
          name: { type: 'string', maxLength: 64 },
          tool_calls: { type: 'array', maxItems: 64, items: toolCall },
          tool_call_id: { type: 'string', maxLength: 256 },
        },
      },
    },
    tools: { type: 'array', maxItems: 128, items: tool },
    // 'none' renders without the tools; forcing a call ('required', a named function) is not implemented.
    tool_choice: { enum: ['auto', 'none'] },
  },
} as const;

/** Every field name a request body may hold (for suggestions and for naming `param`). */
export const KNOWN_FIELDS = [...new Set([...Object.keys(completionBody.properties), ...Object.keys(chatBody.properties), 'role', 'content', 'name', 'tool_calls', 'tool_call_id'])];

/** Fastify's schema message (`body/temperature must be >= 0`), naming an unknown field and the closest known one. */
export function schemaError(errors: FastifySchemaValidationError[], dataVar: string): Error {
  return new Error(
    errors
      .map((e) => {
        const extra = e.params.additionalProperty;
        if (typeof extra !== 'string') return `${dataVar}${e.instancePath} ${e.message ?? 'is invalid'}`;
        const near = closestName(extra, KNOWN_FIELDS);
        return `${dataVar}${e.instancePath} ${e.message ?? ''}: '${extra}'${near ? `; did you mean '${near}'?` : ''}`;
      })
      .join(', '),
  );
}

/** The top-level field a schema error is about (OpenAI's `param`): the path's first segment, or the unknown field. */
export function schemaParam(errors: FastifySchemaValidationError[]): string | null {
  const e = errors[0];
  if (!e) return null;
  const extra = e.params.additionalProperty;
  if (e.instancePath === '' && typeof extra === 'string') return extra;
  // A missing required field is reported at the parent: its name is in params.missingProperty.
  const missing = e.params.missingProperty;
  if (e.instancePath === '' && typeof missing === 'string') return missing;
  return e.instancePath.split('/')[1] || null;
}
