// Generation options: the one type that LanguageModel, the pool, its workers, the CLI and the
// server all take, and the one validator every path runs. Not the sampler nor the loop.

import type { LogitsProcessor } from './processors.js';
import { closestName } from '../util/names.js';

/** Sampler settings; every default leaves the distribution unchanged except temperature. */
export interface SamplingOptions {
  /** 0 = greedy (arg-max); a finite number >= 0. Default 1. */
  temperature?: number;
  /** Keep the k most likely tokens; an integer >= 0, 0 = off (default). */
  topK?: number;
  /** Nucleus mass in (0, 1]; 1 = off (default). */
  topP?: number;
  /** Relative probability floor in [0, 1]; 0 = off (default). */
  minP?: number;
  /** Locally typical mass in (0, 1]; 1 = off (default). */
  typicalP?: number;
  /** A finite number > 0; > 1 discourages every id seen so far (prompt included); 1 = off (default). */
  repetitionPenalty?: number;
  /** A finite number subtracted once from each generated id's score; 0 = off (default). */
  presencePenalty?: number;
  /** A finite number subtracted per occurrence of a generated id; 0 = off (default). */
  frequencyPenalty?: number;
  /**
   * Added to the score of token ids: a Map or a record of id -> bias, each bias finite or
   * -Infinity (bans the id). Ids are checked against the model's vocabulary when generation starts.
   */
  logitBias?: ReadonlyMap<number, number> | Record<number, number>;
  /** Id sequences never to produce (the tokenizer-aware API also takes strings: badWords). */
  badWordIds?: readonly (readonly number[])[];
  /** Ids forced at generated positions: an array (position = index) or a map position -> id. */
  forcedTokens?: readonly number[] | ReadonlyMap<number, number>;
  /** Ban repeating any n-gram of this size; an integer >= 0, 0 = off (default). */
  noRepeatNgramSize?: number;
  /** Extra processors, run after the built-in penalties and before temperature (in-process only). */
  processors?: readonly LogitsProcessor[];
}

export interface GenerateOptions extends SamplingOptions {
  /** Most tokens to generate, an integer >= 0; default 64 (the server's default is 16, as OpenAI's). */
  maxTokens?: number;
  /** @deprecated The old name of `maxTokens`, still accepted; passing both is a TypeError. */
  maxNewTokens?: number;
  /** RNG seed, an integer in [0, 2^53); default: a fresh random seed (reported in the result). */
  seed?: number;
  /** Texts that end generation, not included in the output: an array of non-empty strings (a lone string is a TypeError). */
  stop?: readonly string[];
  /** Text never to produce: each is encoded as written and with a leading space, and banned as an id sequence. */
  badWords?: readonly string[];
  /** Replaces the model's end-of-sequence ids. */
  eosTokenIds?: readonly number[];
  /** Keep going past end-of-sequence ids. Default false. */
  ignoreEos?: boolean;
  /** Record each generated token's log-probability under the model. Default false. */
  logprobs?: boolean;
  /** Stops the request within one forward pass; the result's finishReason is 'aborted'. */
  signal?: AbortSignal;
  /**
   * Beams of a beam search (Hugging Face's BeamSearchScorer semantics), an integer >= 1; default 1:
   * no search (LanguageModel samples; DecoderModel.generate picks the arg-max token).
   */
  numBeams?: number;
  /**
   * Sequences returned; default 1. With numBeams > 1: the best of the search, best first, at most
   * numBeams. Without beams (LanguageModel, the server's `n`): that many sequences sampled from one
   * prompt pass (which needs temperature > 0), their steps sharing decoder passes.
   */
  numReturnSequences?: number;
  /** A finished beam scores sum_logprobs / newTokens ** lengthPenalty; a finite number, default 1. */
  lengthPenalty?: number;
  /**
   * When a search stops (HF's early_stopping): true, once numBeams hypotheses are finished; false
   * (default), once no running beam can beat the worst of them at the current length; 'never',
   * once none can at any length up to maxTokens (with lengthPenalty > 0).
   */
  earlyStopping?: boolean | 'never';
  /** End-of-sequence ids are banned until this many tokens were generated; an integer >= 0, default 0. */
  minNewTokens?: number;
}

/** Options after validation: the deprecated alias is resolved into `maxTokens`. */
export type CheckedGenerateOptions = Omit<GenerateOptions, 'maxNewTokens'>;

/** What crosses to a worker thread: structured-clone safe (Maps clone; signals and functions do not). */
export type WireGenerateOptions = Omit<CheckedGenerateOptions, 'signal' | 'processors'>;

/** Throws a TypeError (wrong type) or RangeError (out of range) naming the option. */
type Check = (value: unknown, name: string) => void;

/** A value as an error message shows it: strings quoted, the rest as written. */
export function showValue(v: unknown): string {
  if (typeof v === 'string') return `'${v}'`;
  if (Array.isArray(v)) return `[${v.map(showValue).join(', ')}]`;
  if (v instanceof Map) return 'a Map';
  if (typeof v === 'object' && v !== null) return `an object (${v.constructor?.name ?? 'null prototype'})`;
  return String(v);
}

function fail(kind: 'type' | 'range', name: string, what: string, v: unknown): never {
  const msg = `'${name}' must be ${what}, got ${showValue(v)}`;
  throw kind === 'type' ? new TypeError(msg) : new RangeError(msg);
}

const num = (what: string, ok: (n: number) => boolean): Check => (v, name) => {
  if (typeof v !== 'number') fail('type', name, what, v);
  if (!ok(v)) fail('range', name, what, v);
};
const isId = (n: unknown): boolean => typeof n === 'number' && Number.isInteger(n) && n >= 0;
const intAtLeast0 = num('an integer >= 0', (n) => Number.isInteger(n) && n >= 0);
const unit = (what: string, ok: (n: number) => boolean) => num(`a number in ${what}`, ok);
const finite = num('a finite number', Number.isFinite);
const bool: Check = (v, name) => {
  if (typeof v !== 'boolean') fail('type', name, 'a boolean', v);
};
const array = (v: unknown, name: string, what: string): unknown[] => (Array.isArray(v) ? v : fail('type', name, what, v));

const strings: Check = (v, name) => {
  const what = 'an array of non-empty strings';
  for (const s of array(v, name, what)) {
    if (typeof s !== 'string') fail('type', name, what, v);
    if (s.length === 0) throw new RangeError(`'${name}' entries must be non-empty strings, got ''`);
  }
};
const ids: Check = (v, name) => {
  for (const id of array(v, name, 'an array of token ids')) if (!isId(id)) fail('range', name, 'an array of token ids (integers >= 0)', v);
};

/** A Map, or a record whose keys are decimal integers, as [key, value] pairs; `name` for errors. */
function entries(v: unknown, name: string, what: string): [unknown, unknown][] {
  if (v instanceof Map) return [...(v as Map<unknown, unknown>)];
  if (typeof v !== 'object' || v === null || Array.isArray(v)) fail('type', name, what, v);
  return Object.entries(v).map(([k, x]) => [/^\d+$/.test(k) ? Number(k) : k, x]);
}

const logitBias: Check = (v, name) => {
  for (const [id, b] of entries(v, name, 'a Map or record of token id -> bias')) {
    if (!isId(id)) throw new RangeError(`'${name}' keys must be token ids (integers >= 0), got ${showValue(id)}`);
    if (typeof b !== 'number') fail('type', `${name}[${String(id)}]`, 'a number', b);
    if (!(Number.isFinite(b) || b === -Infinity)) fail('range', `${name}[${String(id)}]`, 'a finite number or -Infinity', b);
  }
};
const badWordIds: Check = (v, name) => {
  const what = 'an array of non-empty token id arrays';
  for (const s of array(v, name, what)) if (!Array.isArray(s) || s.length === 0 || !s.every(isId)) fail('range', name, what, v);
};
const forcedTokens: Check = (v, name) => {
  const what = 'an array of token ids or a Map of position -> token id';
  const pairs = Array.isArray(v) ? v.map((id, i) => [i, id]) : v instanceof Map ? [...(v as Map<unknown, unknown>)] : fail('type', name, what, v);
  for (const [pos, id] of pairs) if (!isId(pos) || !isId(id)) fail('range', name, what, v);
};
const signal: Check = (v, name) => {
  if (!(v instanceof AbortSignal)) fail('type', name, 'an AbortSignal', v);
};
const processors: Check = (v, name) => {
  const what = 'an array of logits processors (objects with process(scores, ctx))';
  for (const p of array(v, name, what)) if (typeof (p as { process?: unknown } | null)?.process !== 'function') fail('type', name, what, v);
};

/** One check per option: the compiler insists that every option of GenerateOptions has one. */
const CHECKS: { readonly [K in keyof GenerateOptions]-?: Check } = {
  temperature: num('a finite number >= 0', (n) => Number.isFinite(n) && n >= 0),
  topK: intAtLeast0,
  topP: unit('(0, 1]', (n) => n > 0 && n <= 1),
  minP: unit('[0, 1]', (n) => n >= 0 && n <= 1),
  typicalP: unit('(0, 1]', (n) => n > 0 && n <= 1),
  repetitionPenalty: num('a finite number > 0', (n) => Number.isFinite(n) && n > 0),
  presencePenalty: finite,
  frequencyPenalty: finite,
  logitBias,
  badWordIds,
  forcedTokens,
  noRepeatNgramSize: intAtLeast0,
  processors,
  maxTokens: intAtLeast0,
  maxNewTokens: intAtLeast0,
  seed: num('an integer in [0, 2^53)', (n) => Number.isSafeInteger(n) && n >= 0),
  stop: strings,
  badWords: strings,
  eosTokenIds: ids,
  ignoreEos: bool,
  logprobs: bool,
  signal,
  numBeams: num('an integer >= 1', (n) => Number.isInteger(n) && n >= 1),
  numReturnSequences: num('an integer >= 1', (n) => Number.isInteger(n) && n >= 1),
  lengthPenalty: finite,
  earlyStopping: (v, name) => {
    if (typeof v !== 'boolean' && v !== 'never') fail(typeof v === 'string' ? 'range' : 'type', name, "true, false or 'never'", v);
  },
  minNewTokens: intAtLeast0,
};

/** Every option name (the deprecated alias included). */
export const GENERATE_OPTION_NAMES = Object.keys(CHECKS) as readonly (keyof GenerateOptions)[];

export interface ValidateContext {
  /** Further names the caller takes and checks itself (e.g. the pool's priority), offered as suggestions. */
  alsoKnown?: readonly string[];
  /** Options this path cannot take, each with the reason; passing one is a TypeError. */
  refused?: Partial<Record<keyof GenerateOptions, string>>;
}

/**
 * Checks every option and returns a copy with `maxNewTokens` resolved into `maxTokens`. An
 * unknown name is a TypeError naming it (with the closest known name), a value of the wrong type
 * a TypeError, a value out of range a RangeError naming the option and the range. An option set
 * to undefined counts as absent. Token ids are checked against the vocabulary later, by the loop.
 */
export function validateGenerateOptions(options: unknown, context: ValidateContext = {}): CheckedGenerateOptions {
  if (typeof options !== 'object' || options === null || Array.isArray(options)) throw new TypeError(`generation options must be an object, got ${showValue(options)}`);
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(options)) {
    if (value === undefined) continue;
    if (!Object.hasOwn(CHECKS, key)) {
      const known = [...GENERATE_OPTION_NAMES.filter((n) => n !== 'maxNewTokens' && !context.refused?.[n]), ...(context.alsoKnown ?? [])];
      const near = closestName(key, known);
      throw new TypeError(`unknown generation option '${key}'${near ? `; did you mean '${near}'?` : ''}`);
    }
    const why = context.refused?.[key as keyof GenerateOptions];
    if (why !== undefined) throw new TypeError(`'${key}' is not accepted here: ${why}`);
    CHECKS[key as keyof GenerateOptions](value, key);
    out[key] = value;
  }
  if (out.maxNewTokens !== undefined) {
    if (out.maxTokens !== undefined) throw new TypeError("pass 'maxTokens' or its deprecated alias 'maxNewTokens', not both");
    out.maxTokens = out.maxNewTokens;
    delete out.maxNewTokens;
  }
  return out as CheckedGenerateOptions;
}
