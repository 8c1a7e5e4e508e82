// GGUF byte-level BPE vocabularies with each tokenizer.ggml.pre type attnode reads, against the
// Hugging Face `tokenizers` package running the tokenizer.json those models ship (pre-tokenizer
// and normalizer spelled here as in those files), on the whole corpus, and against llama.cpp's
// tokenizer on the same vocabulary (goldens of tools/llamacpp/make-tokenizer-goldens.mjs);
// unknown types are refused.
import { describe, expect, it } from 'vitest';
import { Tokenizer, TokenizerFormatError, GGUF_TOKEN_TYPE } from '../../ts/tokenizer/index.js';
import { GGUF_PRE_TYPES } from '../../ts/tokenizer/gguf.js';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { corpusDir, corpusTexts, hf, readFixture } from './util.js';

const byteLevel = (useRegex: boolean) => ({ type: 'ByteLevel', add_prefix_space: false, trim_offsets: false, use_regex: useRegex });
const split = (regex: string) => ({ type: 'Split', pattern: { Regex: regex }, behavior: 'Isolated', invert: false });
const seq = (...pretokenizers: unknown[]) => ({ type: 'Sequence', pretokenizers });

// The pre_tokenizer (and normalizer) blocks of the models' own tokenizer.json files.
const LLAMA3 = seq(split("(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"), byteLevel(false));
const QWEN2 = seq(split("(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"), byteLevel(false));
const SMOLLM = seq({ type: 'Digits', individual_digits: true }, byteLevel(true));
const O200K = seq(split(
  "[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]*[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?|[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]+[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n/]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+",
), byteLevel(false));
const TEKKEN = seq(split(
  "[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]*[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]+|[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]+[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]*|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n/]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+",
), byteLevel(false));

const GPT2_SPLIT = "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)";
// llama.cpp's fallback type (no tokenizer.json spells it; this is its sequence of regex splits).
const DEFAULT = seq(split('[\\p{P}\\$\\+<=>\\^~\\|]+'), split(GPT2_SPLIT), split('\\p{N}+'), split('[0-9][0-9][0-9]'), byteLevel(false));

interface Case { pre: string; preTokenizer: unknown; normalizer?: unknown; ignoreMerges?: boolean }
const CASES: Case[] = [
  ...['gpt2', 'gpt-2', 'phi-2'].map((pre) => ({ pre, preTokenizer: byteLevel(true) })),
  { pre: 'default', preTokenizer: DEFAULT },
  ...['llama-bpe', 'llama3', 'llama-v3', 'falcon3'].map((pre) => ({ pre, preTokenizer: LLAMA3, ignoreMerges: true })),
  ...['qwen2', 'deepseek-r1-qwen'].map((pre) => ({ pre, preTokenizer: QWEN2, normalizer: { type: 'NFC' } })),
  ...['smollm', 'starcoder', 'refact'].map((pre) => ({ pre, preTokenizer: SMOLLM })),
  { pre: 'gpt-4o', preTokenizer: O200K },
  { pre: 'tekken', preTokenizer: TEKKEN, ignoreMerges: true },
];

// A byte-level BPE of 1195 tokens (bpe-bytelevel-digits.json) with merges added across the
// boundaries the types draw differently (a space before a digit, digit runs, a case change inside
// a word, an upper-case contraction, a newline before a space), so that the splits show in the ids.
const fixture = JSON.parse(readFixture('bpe-bytelevel-digits.json')) as { model: { vocab: Record<string, number>; merges: (string | string[])[] } } & Record<string, unknown>;
const LLAMACPP = JSON.parse(readFixture('gguf-pre-goldens.json')) as {
  header: { script: string }; extra_merges: string[]; types: Record<string, Record<string, number[]>>; llama_cpp_refuses: string[];
  /** llama.cpp's ids of the NFC-normalized corpus, for the types whose tokenizer.json normalizes. */
  nfc_input: Record<string, Record<string, number[]>>;
};
const EXTRA_MERGES = LLAMACPP.extra_merges;
const tokens: string[] = [];
for (const [t, id] of Object.entries(fixture.model.vocab)) tokens[id] = t;
const merges = [...fixture.model.merges.map((m) => (typeof m === 'string' ? m : m.join(' '))), ...EXTRA_MERGES];
for (const m of EXTRA_MERGES) if (!tokens.includes(m.replace(' ', ''))) tokens.push(m.replace(' ', ''));
const base = { ...fixture, model: { ...fixture.model, vocab: Object.fromEntries(tokens.map((t, i) => [t, i])), merges } };
const meta = (pre: string) => ({
  'tokenizer.ggml.model': 'gpt2', 'tokenizer.ggml.pre': pre, 'tokenizer.ggml.tokens': tokens, 'tokenizer.ggml.merges': merges,
  'tokenizer.ggml.token_type': tokens.map((_, i) => (i === 0 ? GGUF_TOKEN_TYPE.control : GGUF_TOKEN_TYPE.normal)), 'tokenizer.ggml.add_bos_token': false,
});
const texts = corpusTexts();

describe.each(CASES)("tokenizer.ggml.pre '$pre'", (c) => {
  it('gives the ids of the Hugging Face tokenizer.json it stands for on the corpus', async () => {
    const ours = Tokenizer.fromGGUF(meta(c.pre));
    const ref = hf.Tokenizer.fromString(JSON.stringify({
      ...base, normalizer: c.normalizer ?? null, pre_tokenizer: c.preTokenizer, post_processor: null,
      model: { ...base.model, ignore_merges: c.ignoreMerges === true },
    }));
    for (const { name, text } of texts) {
      expect(ours.encode(text), name).toEqual((await ref.encode(text)).getIds());
    }
  });
});

/**
 * Where attnode follows the tokenizer.json and llama.cpp does not: Qwen's NFC (llama.cpp does not
 * normalize: the decomposed accents of marks.txt), and llama.cpp's regex engine in the GPT-4o and
 * Tekken patterns, which splits a Devanagari vowel sign (a spacing mark, \p{Mc}) off the word it
 * ends and joins it to the comma after it (scripts.txt); Hugging Face keeps it in the word.
 */
const LLAMACPP_DIFFERS: Record<string, string[]> = { 'qwen2': ['marks.txt'], 'deepseek-r1-qwen': ['marks.txt'], 'gpt-4o': ['scripts.txt'], 'tekken': ['scripts.txt'] };

describe.each(Object.keys(LLAMACPP.types))("tokenizer.ggml.pre '%s' against llama.cpp", (pre) => {
  const differs = LLAMACPP_DIFFERS[pre] ?? [];
  it(`gives llama.cpp's ids on every corpus file${differs.length ? ` but ${differs.join(', ')}` : ''}`, () => {
    expect(LLAMACPP.header.script).toBe('tools/llamacpp/make-tokenizer-goldens.mjs');
    const ours = Tokenizer.fromGGUF(meta(pre));
    for (const [file, ids] of Object.entries(LLAMACPP.types[pre]!)) {
      const got = ours.encode(readFileSync(join(corpusDir, file), 'utf8'));
      if (differs.includes(file)) expect(got, file).not.toEqual(ids);
      else expect(got, file).toEqual(ids);
      // Qwen: the difference is NFC alone; llama.cpp given the NFC text agrees everywhere.
      const nfc = LLAMACPP.nfc_input[pre];
      if (GGUF_PRE_TYPES[pre]!.nfc) expect(got, `${file} (NFC)`).toEqual(nfc![file]);
    }
  });
});

describe('pre types', () => {
  it('llama.cpp knows every type attnode reads but attnode\'s own spelling gpt2', () => {
    expect(LLAMACPP.llama_cpp_refuses).toEqual(['gpt2']);
    expect(Object.keys(LLAMACPP.types).length).toBe(Object.keys(GGUF_PRE_TYPES).length - 1);
  });

  it('every type attnode reads is tested here', () => {
    expect(CASES.map((c) => c.pre).sort()).toEqual(Object.keys(GGUF_PRE_TYPES).sort());
  });

  it('the splits differ where the types differ (the comparison above can fail)', () => {
    const text = "Year 2024: WE'S got 12345 HelloWorld Stop\r\n  ok";
    const ids = new Set(['gpt2', 'llama-bpe', 'qwen2', 'smollm', 'gpt-4o', 'tekken'].map((p) => JSON.stringify(Tokenizer.fromGGUF(meta(p)).encode(text))));
    expect(ids.size).toBeGreaterThanOrEqual(5);
  });

  it('an unknown type is refused by name, with the supported ones listed', () => {
    for (const pre of ['deepseek-llm', 'command-r', 'chatglm-bpe']) {
      expect(() => Tokenizer.fromGGUF(meta(pre))).toThrow(TokenizerFormatError);
      expect(() => Tokenizer.fromGGUF(meta(pre))).toThrow(new RegExp(`pre-tokenizer '${pre}' is not supported \\(supported: gpt2, gpt-2, .*qwen2.*tekken\\)`));
    }
  });
});
