// JSON schemas of the encoder routes' bodies (/v1/embeddings, /v1/rerank), checked by Fastify
// before a handler runs, and the handlers' own checks of what a schema cannot say well (the forms
// of `input`, empty texts, top_n against the documents). Not the routes (routes/encoder.ts).

import type { EmbedInput } from '../scheduler/encoder-requests.js';
import { MAX_ENCODER_INPUTS } from '../scheduler/encoder-requests.js';

/** Longest text accepted in any field, in characters (as the completion routes' prompt). */
const MAX_TEXT = 65536;

export const embeddingsBody = {
  type: 'object',
  required: ['input'],
  additionalProperties: false,
  properties: {
    // A string, strings, token ids, or lists of token ids (OpenAI's forms); embeddingInputs checks the items.
    input: { anyOf: [{ type: 'string', maxLength: MAX_TEXT }, { type: 'array', maxItems: MAX_ENCODER_INPUTS }] },
    model: { type: 'string', maxLength: 256 },
    encoding_format: { enum: ['float', 'base64'] },
    dimensions: { type: 'integer', minimum: 1 },
    user: { type: 'string', maxLength: 256 },
    /** Not OpenAI's: cut inputs longer than the model takes instead of answering 400 (as TEI's `truncate`). */
    truncate: { type: 'boolean' },
  },
} as const;

export const rerankBody = {
  type: 'object',
  required: ['query', 'documents'],
  additionalProperties: false,
  properties: {
    model: { type: 'string', maxLength: 256 },
    query: { type: 'string', maxLength: MAX_TEXT },
    documents: { type: 'array', minItems: 1, maxItems: MAX_ENCODER_INPUTS, items: { type: 'string', maxLength: MAX_TEXT } },
    top_n: { type: 'integer', minimum: 1 },
    return_documents: { type: 'boolean' },
    user: { type: 'string', maxLength: 256 },
    truncate: { type: 'boolean' },
  },
} as const;

export interface EmbeddingsBody {
  input: string | unknown[];
  model?: string;
  encoding_format?: 'float' | 'base64';
  dimensions?: number;
  user?: string;
  truncate?: boolean;
}

export interface RerankBody {
  model?: string;
  query: string;
  documents: string[];
  top_n?: number;
  return_documents?: boolean;
  user?: string;
  truncate?: boolean;
}

/** A 400 the handler raises: its message and the body field it is about (OpenAI's `param`). */
export class FieldError extends Error {
  constructor(
    message: string,
    readonly param: string,
  ) {
    super(message);
    this.name = 'FieldError';
  }
}

const isTokenId = (x: unknown): boolean => Number.isInteger(x) && (x as number) >= 0 && (x as number) <= 2147483647;
const describe = (x: unknown): string => (x === null ? 'null' : Array.isArray(x) ? 'an array' : typeof x);

/** `input` as the pool's inputs: one string, strings, one token-id list, or token-id lists; never empty. */
export function embeddingInputs(input: string | unknown[]): EmbedInput[] {
  if (typeof input === 'string') {
    if (input.length === 0) throw new FieldError("'input' is an empty string; give text to embed", 'input');
    return [input];
  }
  if (input.length === 0) throw new FieldError("'input' is an empty array; give at least one text", 'input');
  if (typeof input[0] === 'number') {
    const bad = input.findIndex((x) => !isTokenId(x));
    if (bad >= 0) throw new FieldError(`'input[${bad}]' must be a token id (a non-negative integer) like the items before it, got ${JSON.stringify(input[bad])}`, 'input');
    return [input as number[]];
  }
  const arrays = Array.isArray(input[0]);
  return input.map((x, i) => {
    if (arrays) {
      if (!Array.isArray(x)) throw new FieldError(`'input[${i}]' must be a list of token ids like 'input[0]', got ${describe(x)}`, 'input');
      if (x.length === 0) throw new FieldError(`'input[${i}]' is an empty list of token ids`, 'input');
      const bad = x.findIndex((id) => !isTokenId(id));
      if (bad >= 0) throw new FieldError(`'input[${i}][${bad}]' must be a token id (a non-negative integer), got ${JSON.stringify(x[bad])}`, 'input');
      return x as number[];
    }
    if (typeof x !== 'string') throw new FieldError(`'input[${i}]' must be a string, got ${describe(x)}`, 'input');
    if (x.length === 0) throw new FieldError(`'input[${i}]' is an empty string; give text to embed`, 'input');
    if (x.length > MAX_TEXT) throw new FieldError(`'input[${i}]' has ${x.length} characters, more than ${MAX_TEXT}`, 'input');
    return x;
  });
}

/** The rerank body's checks beyond its schema: a non-empty query and documents, top_n within the documents. */
export function checkRerank(body: RerankBody): void {
  if (body.query.length === 0) throw new FieldError("'query' is an empty string; give the text to rank the documents against", 'query');
  const empty = body.documents.findIndex((d) => d.length === 0);
  if (empty >= 0) throw new FieldError(`'documents[${empty}]' is an empty string`, 'documents');
  if (body.top_n !== undefined && body.top_n > body.documents.length)
    throw new FieldError(`'top_n' is ${body.top_n}, more than the ${body.documents.length} documents given; omit it for all of them`, 'top_n');
}

/** A vector as OpenAI's base64 encoding_format sends it: the little-endian f32 bytes, base64. */
export function base64Floats(v: Float32Array): string {
  const bytes = Buffer.alloc(v.length * 4);
  for (let i = 0; i < v.length; i++) bytes.writeFloatLE(v[i]!, i * 4);
  return bytes.toString('base64');
}
