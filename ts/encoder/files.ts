// What an encoder checkpoint directory says beside config.json and the weights: its tokenizer
// (tokenizer.json, or a BERT vocab.txt), tokenizer_config.json, and sentence-transformers' modules.json
// and Pooling config. Reading and checking only; no model and no arithmetic.

import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Tokenizer } from '../tokenizer/index.js';

/** Ways to pool token vectors into one sentence vector (sentence-transformers' Pooling modes). */
export type PoolingMode = 'mean' | 'cls' | 'max';
export const POOLING_MODES: readonly PoolingMode[] = ['cls', 'max', 'mean'];

/** The embedding recipe of a sentence-transformers checkpoint, or the defaults for a bare encoder. */
export interface SentenceRecipe {
  /** Modes in sentence-transformers' concatenation order (cls, max, mean); default ['mean']. */
  pooling: PoolingMode[];
  /** A Normalize module follows the pooling. */
  normalize: boolean;
  /** sentence_bert_config.json max_seq_length, when given. */
  maxSeqLength?: number;
  /** Why the checkpoint's own recipe cannot be followed (an unsupported module or pooling mode); embed() throws it. */
  unsupported?: string;
}

function readJson(path: string): unknown {
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as unknown;
  } catch (e) {
    throw new RangeError(`${path}: not valid JSON (${(e as Error).message})`);
  }
}

function asRecord(v: unknown, where: string): Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new RangeError(`${where}: expected a JSON object`);
  return v as Record<string, unknown>;
}

/** tokenizer_config.json as an object ({} when absent). */
export function readTokenizerConfig(dir: string): Record<string, unknown> {
  const p = join(dir, 'tokenizer_config.json');
  return existsSync(p) ? asRecord(readJson(p), p) : {};
}

/** A special token of tokenizer_config.json: a string or an AddedToken object { content }. */
export function specialToken(cfg: Record<string, unknown>, key: string): string | undefined {
  const v = cfg[key];
  if (typeof v === 'string') return v;
  if (typeof v === 'object' && v !== null && typeof (v as { content?: unknown }).content === 'string') return (v as { content: string }).content;
  return undefined;
}

/**
 * tokenizer.json, else a BERT vocab.txt (one token a line, id = line number) built into the same
 * pipeline BertTokenizerFast converts it to: BertNormalizer (do_lower_case), BertPreTokenizer,
 * WordPiece '##', [CLS] A [SEP] (B [SEP]), WordPiece decoder.
 */
export function readEncoderTokenizer(dir: string, where: string): Tokenizer {
  const tj = join(dir, 'tokenizer.json');
  if (existsSync(tj)) return Tokenizer.fromJSON(readFileSync(tj, 'utf8'));
  const vt = join(dir, 'vocab.txt');
  if (!existsSync(vt)) throw new RangeError(`${where}: ${dir} has neither tokenizer.json nor vocab.txt`);
  const cfg = readTokenizerConfig(dir);
  const lines = readFileSync(vt, 'utf8').split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  const vocab: Record<string, number> = {};
  // A token on two lines takes the later id, as BertTokenizer's load_vocab reads the file.
  lines.forEach((t, i) => {
    vocab[t.replace(/\r$/, '')] = i;
  });
  const name = (key: string, dflt: string): string => specialToken(cfg, key) ?? dflt;
  const [unk, sep, cls, pad, mask] = [name('unk_token', '[UNK]'), name('sep_token', '[SEP]'), name('cls_token', '[CLS]'), name('pad_token', '[PAD]'), name('mask_token', '[MASK]')];
  for (const [key, tok] of [['sep_token', sep], ['cls_token', cls], ['unk_token', unk]] as const)
    if (vocab[tok] === undefined) throw new RangeError(`${where}: ${vt} has no ${key} '${tok}'`);
  const added = [unk, sep, pad, cls, mask].filter((t) => vocab[t] !== undefined)
    .map((t) => ({ id: vocab[t], content: t, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true }));
  const lower = cfg.do_lower_case ?? true;
  if (typeof lower !== 'boolean') throw new RangeError(`${where}: tokenizer_config.json 'do_lower_case' must be a boolean, got ${JSON.stringify(lower)}`);
  return Tokenizer.fromJSON({
    added_tokens: added,
    normalizer: { type: 'BertNormalizer', clean_text: true, handle_chinese_chars: cfg.tokenize_chinese_chars ?? true, strip_accents: cfg.strip_accents ?? null, lowercase: lower },
    pre_tokenizer: { type: 'BertPreTokenizer' },
    post_processor: { type: 'BertProcessing', sep: [sep, vocab[sep]], cls: [cls, vocab[cls]] },
    decoder: { type: 'WordPiece', prefix: '##', cleanup: true },
    model: { type: 'WordPiece', unk_token: unk, continuing_subword_prefix: '##', max_input_chars_per_word: 100, vocab },
  });
}

// sentence-transformers modules this facade follows; any other module changes the vector.
const ST_TYPES = { transformer: 'sentence_transformers.models.Transformer', pooling: 'sentence_transformers.models.Pooling', normalize: 'sentence_transformers.models.Normalize' } as const;

// Pooling config flags: the ones implemented, in sentence-transformers' concatenation order, and the rest.
const POOLING_FLAGS: readonly (readonly [string, PoolingMode])[] = [['pooling_mode_cls_token', 'cls'], ['pooling_mode_max_tokens', 'max'], ['pooling_mode_mean_tokens', 'mean']];
const UNSUPPORTED_FLAGS = ['pooling_mode_mean_sqrt_len_tokens', 'pooling_mode_weightedmean_tokens', 'pooling_mode_lasttoken'];

/** modules.json and its Pooling config; a bare encoder (no modules.json) pools by mean, unnormalized. */
export function readSentenceRecipe(dir: string): SentenceRecipe {
  const mj = join(dir, 'modules.json');
  const recipe: SentenceRecipe = { pooling: ['mean'], normalize: false };
  const sb = join(dir, 'sentence_bert_config.json');
  if (existsSync(sb)) {
    const m = asRecord(readJson(sb), sb).max_seq_length;
    if (m !== undefined && m !== null) {
      if (typeof m !== 'number' || !Number.isInteger(m) || m < 1) throw new RangeError(`${sb}: 'max_seq_length' must be a positive integer, got ${JSON.stringify(m)}`);
      recipe.maxSeqLength = m;
    }
  }
  if (!existsSync(mj)) return recipe;
  const mods = readJson(mj);
  if (!Array.isArray(mods)) throw new RangeError(`${mj}: expected a list of modules`);
  mods.forEach((raw, i) => {
    const m = asRecord(raw, `${mj}[${i}]`);
    const type = String(m.type);
    if (type === ST_TYPES.transformer) return;
    if (type === ST_TYPES.normalize) return void (recipe.normalize = true);
    if (type !== ST_TYPES.pooling) {
      recipe.unsupported ??= `${mj}[${i}]: module type '${type}' is not supported (supported: ${Object.values(ST_TYPES).join(', ')})`;
      return;
    }
    const pc = join(dir, typeof m.path === 'string' ? m.path : '1_Pooling', 'config.json');
    if (!existsSync(pc)) throw new RangeError(`${mj}[${i}]: the Pooling module's ${pc} is missing`);
    const c = asRecord(readJson(pc), pc);
    for (const f of UNSUPPORTED_FLAGS) if (c[f] === true) recipe.unsupported ??= `${pc}: '${f}' is not supported (supported: ${POOLING_FLAGS.map(([k]) => k).join(', ')})`;
    const modes = POOLING_FLAGS.filter(([flag]) => c[flag] === true).map(([, mode]) => mode);
    if (modes.length === 0 && recipe.unsupported === undefined) recipe.unsupported = `${pc}: no pooling mode is set`;
    if (modes.length > 0) recipe.pooling = modes;
  });
  return recipe;
}
