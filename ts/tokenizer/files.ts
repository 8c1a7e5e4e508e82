// The tokenizer of a checkpoint directory: tokenizer.json, else Marian's source.spm + vocab.json,
// else mBART's sentencepiece.bpe.model (fairseq ids, language codes), else a SentencePiece
// spiece.model (T5) read directly, else GPT-2's vocab.json + merges.txt (BART's with <s> A </s>).
// Not GGUF files.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { checkRegularFile } from '../io/files.js';
import { AddedTokens, type AddedToken } from './added.js';
import { parseMergesText } from './gpt2.js';
import { tokenizerFromMarian } from './marian.js';
import { tokenizerFromMBart, type MBartVariant } from './mbart.js';
import { parseSentencePieceModel, SPM_PIECE_TYPE } from './spm-proto.js';
import { sentencePieceParts } from './spm.js';
import { Tokenizer } from './tokenizer.js';

/** T5Tokenizer's default number of <extra_id_N> sentinels after the pieces. */
const T5_EXTRA_IDS = 100;

function readIfThere(dir: string, name: string, where: string): Buffer | null {
  const p = join(dir, name);
  if (!existsSync(p)) return null;
  checkRegularFile(p, where);
  return readFileSync(p);
}

function readConfig(dir: string, where: string): Record<string, unknown> {
  const b = readIfThere(dir, 'tokenizer_config.json', where);
  if (b === null) return {};
  let v: unknown;
  try { v = JSON.parse(b.toString('utf8')); } catch (e) { throw new RangeError(`${where}: ${join(dir, 'tokenizer_config.json')} is not valid JSON: ${(e as Error).message}`); }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new RangeError(`${where}: ${join(dir, 'tokenizer_config.json')} must hold an object`);
  return v as Record<string, unknown>;
}

/**
 * Reads the directory's tokenizer. `where` names the caller in errors. With spiece.model alone,
 * the tokenizer is T5Tokenizer's: sentencepiece's ids, control and unknown pieces matched as
 * special tokens, `extra_ids` sentinels (<extra_id_0> is the last id), </s> appended.
 */
export function tokenizerFromDirectory(dir: string, where: string): Tokenizer {
  const tj = readIfThere(dir, 'tokenizer.json', where);
  if (tj !== null) return Tokenizer.fromJSON(tj.toString('utf8'));
  const source = readIfThere(dir, 'source.spm', where);
  if (source !== null) {
    const target = readIfThere(dir, 'target.spm', where);
    const vocab = readIfThere(dir, 'vocab.json', where);
    if (target === null || vocab === null) throw new RangeError(`${where}: ${dir} has source.spm but no ${target === null ? 'target.spm' : 'vocab.json'} (a Marian tokenizer needs source.spm, target.spm and vocab.json)`);
    const config = readConfig(dir, where);
    const tv = config.separate_vocabs === true ? readIfThere(dir, 'target_vocab.json', where) : null;
    if (config.separate_vocabs === true && tv === null) throw new RangeError(`${where}: ${dir} says separate_vocabs but has no target_vocab.json`);
    return tokenizerFromMarian({ source: new Uint8Array(source), target: new Uint8Array(target), vocab: vocab.toString('utf8'), config,
      ...(tv !== null ? { targetVocab: tv.toString('utf8') } : {}) }, dir);
  }
  const bpeModel = readIfThere(dir, 'sentencepiece.bpe.model', where);
  if (bpeModel !== null) return mbartTokenizer(dir, new Uint8Array(bpeModel), readConfig(dir, where), where);
  const spiece = readIfThere(dir, 'spiece.model', where);
  if (spiece !== null) return t5Tokenizer(new Uint8Array(spiece), readConfig(dir, where), join(dir, 'spiece.model'));
  const vocab = readIfThere(dir, 'vocab.json', where);
  const merges = readIfThere(dir, 'merges.txt', where);
  if (vocab !== null && merges !== null) return bpeTokenizer(dir, vocab.toString('utf8'), merges.toString('utf8'), where);
  throw new RangeError(`${where}: ${dir} has no tokenizer.json, spiece.model, source.spm, sentencepiece.bpe.model, or vocab.json with merges.txt`);
}

// tokenizer_config.json's tokenizer_class for sentencepiece.bpe.model (slow and fast names).
const MBART_CLASSES: Readonly<Record<string, MBartVariant>> = {
  MBartTokenizer: 'mbart', MBartTokenizerFast: 'mbart', MBart50Tokenizer: 'mbart50', MBart50TokenizerFast: 'mbart50',
};

/**
 * sentencepiece.bpe.model without tokenizer.json: mBART's tokenizer (tokenizer_config.json's
 * tokenizer_class MBartTokenizer or MBart50Tokenizer; without one, config.json's model_type mbart
 * means MBartTokenizer), with its src_lang. Other owners of such a file (XLM-R) are refused.
 */
function mbartTokenizer(dir: string, bytes: Uint8Array, config: Record<string, unknown>, where: string): Tokenizer {
  const path = join(dir, 'sentencepiece.bpe.model');
  const cls = config.tokenizer_class;
  let variant: MBartVariant | undefined;
  if (cls !== undefined && cls !== null) {
    variant = typeof cls === 'string' ? MBART_CLASSES[cls] : undefined;
    if (variant === undefined) throw new RangeError(`${where}: ${path} with tokenizer_class ${JSON.stringify(cls)} is not supported without tokenizer.json (${Object.keys(MBART_CLASSES).join(', ')} are)`);
  } else {
    const cfgPath = join(dir, 'config.json');
    const modelType = existsSync(cfgPath) ? (JSON.parse(readFileSync(cfgPath, 'utf8')) as Record<string, unknown>).model_type : undefined;
    if (modelType !== 'mbart') throw new RangeError(`${where}: ${path} without tokenizer.json needs tokenizer_config.json's tokenizer_class (MBartTokenizer or MBart50Tokenizer) or config.json's model_type 'mbart', got ${JSON.stringify(modelType)}`);
    variant = 'mbart';
  }
  const src = config.src_lang;
  if (src !== undefined && src !== null && typeof src !== 'string') throw new RangeError(`${where}: tokenizer_config.json 'src_lang' must be a string, got ${JSON.stringify(src)}`);
  return tokenizerFromMBart(bytes, { variant, path, ...(typeof src === 'string' ? { srcLang: src } : {}) });
}

// Model types whose byte-level BPE wraps a sequence as <s> A </s> (BartTokenizer, RobertaTokenizer).
const ROBERTA_STYLE = ['bart', 'roberta'];
const ROBERTA_SPECIALS = ['<s>', '<pad>', '</s>', '<unk>', '<mask>'];

/**
 * GPT-2's vocab.json + merges.txt; for BART (and RoBERTa) as their tokenizers convert them:
 * byte-level BPE, <s> A </s> (pairs <s> A </s></s> B </s>), the special tokens as added tokens
 * (<mask> swallowing the space before it).
 */
function bpeTokenizer(dir: string, vocabText: string, mergesText: string, where: string): Tokenizer {
  const cfgPath = join(dir, 'config.json');
  const cfg = existsSync(cfgPath) ? (JSON.parse(readFileSync(cfgPath, 'utf8')) as Record<string, unknown>) : {};
  if (!ROBERTA_STYLE.includes(String(cfg.model_type))) return Tokenizer.fromGPT2(vocabText, mergesText);
  let vocab: Record<string, number>;
  try { vocab = JSON.parse(vocabText) as Record<string, number>; } catch (e) { throw new RangeError(`${where}: ${join(dir, 'vocab.json')} is not valid JSON: ${(e as Error).message}`); }
  for (const t of ['<s>', '</s>'])
    if (typeof vocab[t] !== 'number') throw new RangeError(`${where}: ${join(dir, 'vocab.json')} has no '${t}'`);
  const added = ROBERTA_SPECIALS.filter((t) => typeof vocab[t] === 'number')
    .map((t) => ({ id: vocab[t], content: t, single_word: false, lstrip: t === '<mask>', rstrip: false, normalized: false, special: true }));
  const byteLevel = { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true };
  return Tokenizer.fromJSON({
    added_tokens: added,
    normalizer: null,
    pre_tokenizer: byteLevel,
    post_processor: { type: 'RobertaProcessing', sep: ['</s>', vocab['</s>']], cls: ['<s>', vocab['<s>']], trim_offsets: true, add_prefix_space: false },
    decoder: byteLevel,
    model: { type: 'BPE', vocab, merges: parseMergesText(mergesText, join(dir, 'merges.txt')) },
  });
}

function t5Tokenizer(bytes: Uint8Array, config: Record<string, unknown>, path: string): Tokenizer {
  const m = parseSentencePieceModel(bytes, path);
  const parts = sentencePieceParts(m, true, path);
  const extra = config.extra_ids ?? T5_EXTRA_IDS;
  if (!Number.isInteger(extra) || (extra as number) < 0) throw new RangeError(`${path}: tokenizer_config.json 'extra_ids' must be a non-negative integer, got ${JSON.stringify(extra)}`);
  const n = m.pieces.length;
  const added: AddedToken[] = [...parts.added.list];
  for (let i = 0; i < (extra as number); i++) added.push({ id: n + (extra as number) - 1 - i, content: `<extra_id_${i}>`, special: true, lstrip: false, rstrip: false, singleWord: false });
  const eos = m.pieces.findIndex((p) => p.piece === '</s>' && p.type === SPM_PIECE_TYPE.control);
  const eosId = eos >= 0 ? eos : m.trainer.eosId;
  if (eosId < 0 || eosId >= n) throw new RangeError(`${path}: no </s> piece to end sequences with`);
  return new Tokenizer({
    ...parts,
    added: new AddedTokens(added),
    postProcessor: (a, b, add) => {
      const out = { ids: [...a.ids], offsets: [...a.offsets], specialTokensMask: [...a.specialTokensMask], typeIds: [...a.typeIds], tokens: [...a.tokens] };
      const end = (): void => { out.ids.push(eosId); out.offsets.push([0, 0]); out.specialTokensMask.push(1); out.typeIds.push(0); out.tokens.push('</s>'); };
      if (add) end();
      if (b !== null) {
        for (let i = 0; i < b.ids.length; i++) { out.ids.push(b.ids[i]!); out.offsets.push(b.offsets[i]!); out.specialTokensMask.push(b.specialTokensMask[i]!); out.typeIds.push(0); out.tokens.push(b.tokens[i]!); }
        if (add) end();
      }
      return out;
    },
  });
}
