// JSON schemas for the OpenAI-compatible request bodies: types, ranges and sizes are checked
// by Fastify before a handler runs, so a bad body is a 400 with a message, never a crash.

const sampling = {
  max_tokens: { type: 'integer', minimum: 1, maximum: 4096 },
  temperature: { type: 'number', minimum: 0, maximum: 2 },
  top_p: { type: 'number', exclusiveMinimum: 0, maximum: 1 },
  top_k: { type: 'integer', minimum: 0, maximum: 100_000 },
  min_p: { type: 'number', minimum: 0, maximum: 1 },
  presence_penalty: { type: 'number', minimum: -2, maximum: 2 },
  frequency_penalty: { type: 'number', minimum: -2, maximum: 2 },
  repetition_penalty: { type: 'number', exclusiveMinimum: 0, maximum: 10 },
  seed: { type: 'integer', minimum: 0, maximum: 4294967295 },
  stop: {
    anyOf: [
      { type: 'string', minLength: 1, maxLength: 256 },
      { type: 'array', maxItems: 4, items: { type: 'string', minLength: 1, maxLength: 256 } },
    ],
  },
  stream: { type: 'boolean' },
  n: { type: 'integer', minimum: 1, maximum: 1 },
  model: { type: 'string', maxLength: 256 },
  user: { type: 'string', maxLength: 256 },
} as const;

export const completionBody = {
  type: 'object',
  required: ['prompt'],
  additionalProperties: false,
  properties: {
    ...sampling,
    prompt: {
      anyOf: [
        { type: 'string', maxLength: 65536 },
        { type: 'array', minItems: 1, maxItems: 1, items: { type: 'string', maxLength: 65536 } },
      ],
    },
    echo: { type: 'boolean' },
    logprobs: { type: ['integer', 'null'], minimum: 0, maximum: 0 },
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
        required: ['role', 'content'],
        additionalProperties: false,
        properties: {
          role: { enum: ['system', 'user', 'assistant', 'tool'] },
          content: { type: 'string', maxLength: 65536 },
          name: { type: 'string', maxLength: 64 },
        },
      },
    },
  },
} as const;
