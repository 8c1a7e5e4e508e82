// The tasks a Hugging Face encoder-decoder names in config.json's task_specific_params (T5:
// "summarize: " and "translate English to German: " prefixes with their beam settings), as the
// `attnode translate` / `attnode summarize` commands use them: the prefix put before the input,
// and the entry's generation settings as generate() options under the caller's own.
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { hfGenerationOptions } from '../models/seq2seq.js';
import type { GenerateOptions } from './options.js';

export type TaskName = 'translate' | 'summarize';

export interface ResolvedTask {
  /** The task_specific_params entry used, or null when the checkpoint names none for the task. */
  key: string | null;
  /** Put before the input text ('' when the entry has none). */
  prefix: string;
  /** The entry's generation settings (num_beams, length_penalty, max_length ...). */
  options: GenerateOptions;
}

/** config.json's task_specific_params of a checkpoint directory; {} for a file (GGUF) or none. */
export function taskSpecificParams(modelPath: string): Record<string, Record<string, unknown>> {
  if (!existsSync(modelPath) || !statSync(modelPath).isDirectory()) return {};
  const file = join(modelPath, 'config.json');
  if (!existsSync(file)) return {};
  let config: unknown;
  try {
    config = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new SyntaxError(`${file}: not valid JSON (${(e as Error).message})`);
  }
  const t = (config as { task_specific_params?: unknown }).task_specific_params;
  if (t === undefined || t === null) return {};
  if (typeof t !== 'object' || Array.isArray(t)) throw new TypeError(`${file}: task_specific_params must be an object`);
  return t as Record<string, Record<string, unknown>>;
}

/**
 * The entry for a task: 'summarization' for summarize; for translate, `translation_<from>_to_<to>`
 * when from and to are given, else the only translation entry. A checkpoint without entries for
 * the task (Marian, BART) gets no prefix and its own defaults; one with several translation
 * entries needs from and to, and unknown pairs are an error listing the ones it has.
 */
export function resolveTask(params: Record<string, Record<string, unknown>>, task: TaskName, langs: { from?: string; to?: string } = {}): ResolvedTask {
  const entry = (key: string): ResolvedTask => {
    const e = params[key]!;
    if (typeof e !== 'object' || e === null) throw new TypeError(`task_specific_params.${key} must be an object`);
    const { prefix, ...rest } = e;
    if (prefix !== undefined && typeof prefix !== 'string') throw new TypeError(`task_specific_params.${key}.prefix must be a string`);
    return { key, prefix: prefix ?? '', options: hfGenerationOptions(rest) };
  };
  const none: ResolvedTask = { key: null, prefix: '', options: {} };
  if (task === 'summarize') {
    if (langs.from !== undefined || langs.to !== undefined) throw new RangeError('summarize takes no --from / --to');
    return Object.hasOwn(params, 'summarization') ? entry('summarization') : none;
  }
  const pairs = Object.keys(params).filter((k) => /^translation_[A-Za-z0-9-]+_to_[A-Za-z0-9-]+$/.test(k));
  if (langs.from !== undefined || langs.to !== undefined) {
    if (langs.from === undefined || langs.to === undefined) throw new RangeError('translate needs both --from and --to, or neither');
    const key = `translation_${langs.from}_to_${langs.to}`;
    if (pairs.includes(key)) return entry(key);
    throw new RangeError(
      pairs.length > 0
        ? `this model has no task ${key}; it has ${pairs.join(', ')}`
        : `this model names no translation tasks (no task_specific_params): it translates what it was trained to, so leave out --from / --to`,
    );
  }
  if (pairs.length === 1) return entry(pairs[0]!);
  if (pairs.length > 1) throw new RangeError(`this model has several translation tasks (${pairs.join(', ')}): choose one with --from and --to`);
  return none;
}
