// GGUF byte-level BPE vocabularies with each tokenizer.ggml.pre type attnode reads, against the
// Hugging Face `tokenizers` package running the tokenizer.json those models ship (pre-tokenizer
// and normalizer spelled here as in those files), on the whole corpus; unknown types are refused.
import { describe, expect, it } from 'vitest';
import { Tokenizer, TokenizerFormatError, GGUF_TOKEN_TYPE } from '../../ts/tokenizer/index.js';
import { GGUF_PRE_TYPES } from '../../ts/tokenizer/gguf.js';
import { corpusTexts, hf, readFixture } from './util.js';

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

interface Case { pre: string; preTokenizer: unknown; normalizer?: unknown; ignoreMerges?: boolean }
const CASES: Case[] = [
  ...['gpt2', 'gpt-2', 'default', 'phi-2'].map((pre) => ({ pre, preTokenizer: byteLevel(true) })),
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
const EXTRA_MERGES = ['Ġ 1', '1 2', '12 3', '123 4', 'o W', "' S", 'Ċ Ġ', 'Ġ Ċ', 'S t', 'H e', ': Ġ'];
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

describe('pre types', () => {
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
