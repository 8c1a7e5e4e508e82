// Malformed tokenizer.json gives errors naming the field; GGUF metadata builds the same
// tokenizers; bad arguments give TypeError/RangeError. Not parity on text (see the other files).
import { describe, expect, it } from 'vitest';
import { Tokenizer, TokenizerFormatError, ggufMetadataFromTokenizer, GGUF_TOKEN_TYPE } from '../../ts/tokenizer/index.js';
import { LLAMA3_PATTERN } from '../../ts/tokenizer/gguf.js';
import { corpusTexts, gpt2Files, hf, readFixture } from './util.js';

const small = (): Record<string, unknown> => ({
  added_tokens: [],
  normalizer: null,
  pre_tokenizer: { type: 'Whitespace' },
  decoder: null,
  model: { type: 'BPE', vocab: { a: 0, b: 1, ab: 2, '[UNK]': 3 }, merges: ['a b'], unk_token: '[UNK]' },
});

function formatError(json: unknown): TokenizerFormatError {
  try {
    Tokenizer.fromJSON(typeof json === 'string' ? json : (json as object));
  } catch (e) {
    expect(e).toBeInstanceOf(TokenizerFormatError);
    return e as TokenizerFormatError;
  }
  throw new Error('expected a TokenizerFormatError');
}

describe('malformed tokenizer.json', () => {
  it('accepts the well-formed base case', () => {
    expect(Tokenizer.fromJSON(small()).encode('ab a b')).toEqual([2, 0, 1]);
  });

  it('names the missing model', () => {
    const j = small();
    delete j.model;
    expect(formatError(j).field).toBe('model');
    expect(formatError(j).message).toMatch(/^model: missing/);
  });

  it('names an unknown model type and lists the supported ones', () => {
    const j = small();
    (j.model as Record<string, unknown>).type = 'WordLevelPlus';
    const e = formatError(j);
    expect(e.field).toBe('model.type');
    expect(e.message).toContain('WordLevelPlus');
    expect(e.message).toContain('Unigram');
  });

  it('names merges that refer to absent tokens', () => {
    const j = small();
    (j.model as Record<string, unknown>).merges = ['a b', 'a zz'];
    const e = formatError(j);
    expect(e.field).toBe('model.merges[1]');
    expect(e.message).toContain("'zz'");
    (j.model as Record<string, unknown>).merges = ['b a'];
    expect(formatError(j).message).toContain("merged token 'ba'");
  });

  it('names malformed merges entries, vocab ids, component types and bad JSON', () => {
    const j = small();
    (j.model as Record<string, unknown>).merges = ['ab'];
    expect(formatError(j).field).toBe('model.merges[0]');
    const k = small();
    (k.model as Record<string, unknown>).vocab = { a: 0, b: -1 };
    expect(formatError(k).field).toBe('model.vocab["b"]');
    const l = small();
    l.normalizer = { type: 'Sequence', normalizers: [{ type: 'NFC' }, { type: 'Mystery' }] };
    expect(formatError(l).field).toBe('normalizer.normalizers[1].type');
    const m = small();
    m.pre_tokenizer = { type: 'Split', pattern: { Regex: '(' }, behavior: 'Isolated' };
    expect(formatError(m).field).toBe('pre_tokenizer.pattern.Regex');
    const n = small();
    n.decoder = { kind: 'ByteLevel' };
    expect(formatError(n).field).toBe('decoder.type');
    expect(formatError('{ not json').field).toBe('tokenizer.json');
    expect(formatError('[]').field).toBe('tokenizer.json');
    const o = small();
    o.added_tokens = [{ id: 'x', content: 'y' }];
    expect(formatError(o).field).toBe('added_tokens[0].id');
    const p = small();
    (p.model as Record<string, unknown>).unk_token = '<nope>';
    expect(formatError(p).field).toBe('model.unk_token');
  });

  it('names a Unigram unk_id outside the vocabulary', () => {
    const j = { model: { type: 'Unigram', unk_id: 9, vocab: [['<unk>', 0], ['a', -1]] } };
    expect(formatError(j).field).toBe('model.unk_id');
  });
});

describe('argument errors', () => {
  const tok = Tokenizer.fromJSON(small());
  it('rejects non-strings and unknown ids with the argument named', () => {
    expect(() => tok.encode(42 as unknown as string)).toThrow(TypeError);
    expect(() => tok.encode(42 as unknown as string)).toThrow(/text/);
    expect(() => tok.encodeBatch(['a', null as unknown as string])).toThrow(/texts\[1\]/);
    expect(() => tok.decode([0, 99])).toThrow(RangeError);
    expect(() => tok.decode([0, 99])).toThrow(/ids\[1\]/);
    expect(() => tok.decode([0, -1])).toThrow(/ids\[1\]/);
    expect(() => tok.decode([0.5])).toThrow(/ids\[0\]/);
  });
});

describe('GGUF metadata', () => {
  const { vocab, merges } = gpt2Files();
  const gpt2 = Tokenizer.fromGPT2(vocab, merges);

  it('exports GPT-2 and reads it back to the same tokenizer', () => {
    const meta = ggufMetadataFromTokenizer(gpt2);
    expect(meta['tokenizer.ggml.model']).toBe('gpt2');
    expect((meta['tokenizer.ggml.tokens'] as string[]).length).toBe(50257);
    expect((meta['tokenizer.ggml.merges'] as string[]).length).toBe(50000);
    expect((meta['tokenizer.ggml.token_type'] as number[])[50256]).toBe(GGUF_TOKEN_TYPE.control);
    expect(meta['tokenizer.ggml.eos_token_id']).toBe(50256);
    const back = Tokenizer.fromGGUF(meta);
    for (const { name, text } of corpusTexts()) {
      const ids = gpt2.encode(text);
      expect(back.encode(text), name).toEqual(ids);
      expect(back.decode(ids), name).toBe(gpt2.decode(ids));
    }
    expect(back.encode('x<|endoftext|>')).toEqual([87, 50256]);
  });

  it('reads a Llama 3 style vocabulary (pre = llama-bpe) like the reference tokenizer.json', async () => {
    const j = JSON.parse(readFixture('bpe-bytelevel-digits.json')) as { model: { vocab: Record<string, number>; merges: (string | string[])[] } };
    const tokens: string[] = [];
    for (const [t, id] of Object.entries(j.model.vocab)) tokens[id] = t;
    const mergeList = j.model.merges.map((m) => (typeof m === 'string' ? m : m.join(' ')));
    const tok = Tokenizer.fromGGUF({
      'tokenizer.ggml.model': 'gpt2', 'tokenizer.ggml.pre': 'llama-bpe', 'tokenizer.ggml.tokens': tokens, 'tokenizer.ggml.merges': mergeList,
      'tokenizer.ggml.token_type': tokens.map((_, i) => (i === 0 ? GGUF_TOKEN_TYPE.control : GGUF_TOKEN_TYPE.normal)),
      'tokenizer.ggml.bos_token_id': 0, 'tokenizer.ggml.add_bos_token': true,
    });
    const ref = hf.Tokenizer.fromString(JSON.stringify({ ...j, normalizer: null,
      pre_tokenizer: { type: 'Sequence', pretokenizers: [{ type: 'Split', pattern: { Regex: LLAMA3_PATTERN }, behavior: 'Isolated', invert: false },
        { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: false }] },
      model: { ...j.model, ignore_merges: true },
      post_processor: { type: 'TemplateProcessing', single: [{ SpecialToken: { id: 'bos', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }],
        pair: [{ SpecialToken: { id: 'bos', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }, { Sequence: { id: 'B', type_id: 1 } }],
        special_tokens: { bos: { id: 'bos', ids: [0], tokens: [tokens[0]] } } } }));
    for (const { name, text } of corpusTexts()) {
      expect(tok.encode(text), name).toEqual((await ref.encode(text)).getIds());
    }
  });

  it('adds BOS when add_bos_token says so', () => {
    const meta = { ...ggufMetadataFromTokenizer(gpt2), 'tokenizer.ggml.add_bos_token': true };
    expect(Tokenizer.fromGGUF(meta).encode('hi')).toEqual([50256, 5303]);
    expect(Tokenizer.fromGGUF(meta).encode('hi', { addSpecialTokens: false })).toEqual([5303]);
  });

  it('reads a BERT vocabulary (llama.cpp spelling) and matches the WordPiece reference', async () => {
    const json = readFixture('wordpiece-bert.json');
    const ref = hf.Tokenizer.fromString(json);
    const wp = (JSON.parse(json) as { model: { vocab: Record<string, number> } }).model.vocab;
    const tokens: string[] = [];
    for (const [t, id] of Object.entries(wp)) tokens[id] = t;
    const specials = new Set(['[UNK]', '[CLS]', '[SEP]', '[PAD]', '[MASK]']);
    const meta = {
      'tokenizer.ggml.model': 'bert',
      // llama.cpp marks word starts with U+2581 and drops the '##' of continuations.
      'tokenizer.ggml.tokens': tokens.map((t) => (specials.has(t) ? t : t.startsWith('##') ? t.slice(2) : `\u2581${t}`)),
      'tokenizer.ggml.token_type': tokens.map((t) => (specials.has(t) ? GGUF_TOKEN_TYPE.control : GGUF_TOKEN_TYPE.normal)),
      'tokenizer.ggml.unknown_token_id': wp['[UNK]'],
      'tokenizer.ggml.cls_token_id': wp['[CLS]'],
      'tokenizer.ggml.seperator_token_id': wp['[SEP]'],
      'tokenizer.ggml.padding_token_id': wp['[PAD]'],
    };
    const tok = Tokenizer.fromGGUF(meta);
    for (const { name, text } of corpusTexts()) {
      expect(tok.encode(text), name).toEqual((await ref.encode(text)).getIds());
    }
  });

  it('reads a sentencepiece (llama) vocabulary: score-ordered merges, byte fallback, BOS', () => {
    const bytes = Array.from({ length: 256 }, (_, b) => `<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`);
    const pieces: [string, number, number][] = [
      ['<unk>', 0, GGUF_TOKEN_TYPE.unknown], ['<s>', 0, GGUF_TOKEN_TYPE.control], ['</s>', 0, GGUF_TOKEN_TYPE.control],
      ...bytes.map((b): [string, number, number] => [b, 0, GGUF_TOKEN_TYPE.byte]),
      ['\u2581', -1, 1], ['a', -2, 1], ['b', -3, 1], ['c', -4, 1], ['ab', -5, 1], ['\u2581a', -6, 1], ['bc', -0.5, 1], ['\u2581ab', -7, 1],
    ];
    const meta = {
      'tokenizer.ggml.model': 'llama',
      'tokenizer.ggml.tokens': pieces.map((p) => p[0]),
      'tokenizer.ggml.scores': new Float32Array(pieces.map((p) => p[1])),
      'tokenizer.ggml.token_type': pieces.map((p) => p[2]),
      'tokenizer.ggml.bos_token_id': 1,
      'tokenizer.ggml.eos_token_id': 2,
      'tokenizer.ggml.unknown_token_id': 0,
    };
    const tok = Tokenizer.fromGGUF(meta);
    const id = (t: string): number => pieces.findIndex((p) => p[0] === t);
    // "abc": 'bc' (-0.5) outranks 'ab' (-5), then '▁a' joins; "ab c" keeps '▁ab'.
    expect(tok.encode('abc')).toEqual([1, id('\u2581a'), id('bc')]);
    expect(tok.encode('ab a')).toEqual([1, id('\u2581ab'), id('\u2581a')]);
    // 'é' is not in the vocabulary: two byte tokens, decoded back to the character.
    const ids = tok.encode('é', { addSpecialTokens: false });
    expect(ids).toEqual([id('\u2581'), id('<0xC3>'), id('<0xA9>')]);
    expect(tok.decode(ids)).toBe('é');
    expect(tok.decode(tok.encode('ab a'), { skipSpecialTokens: true })).toBe('ab a');
  });

  it('names missing or unknown GGUF keys', () => {
    const e = (m: Record<string, unknown>): string => { try { Tokenizer.fromGGUF(m); } catch (x) { return (x as Error).message; } return 'no error'; };
    expect(e({})).toMatch(/^tokenizer\.ggml\.model: missing/);
    expect(e({ 'tokenizer.ggml.model': 'rwkv', 'tokenizer.ggml.tokens': ['a'] })).toMatch(/tokenizer\.ggml\.model: unknown model 'rwkv'/);
    expect(e({ 'tokenizer.ggml.model': 'gpt2', 'tokenizer.ggml.tokens': ['a'] })).toMatch(/tokenizer\.ggml\.merges: missing/);
    expect(e({ 'tokenizer.ggml.model': 'gpt2', 'tokenizer.ggml.tokens': ['a', 'b'], 'tokenizer.ggml.merges': ['a c'] })).toMatch(/tokenizer\.ggml\.merges\[0\]/);
    expect(e({ 'tokenizer.ggml.model': 'llama', 'tokenizer.ggml.tokens': ['a'], 'tokenizer.ggml.scores': [0, 1] })).toMatch(/tokenizer\.ggml\.scores/);
    expect(e({ 'tokenizer.ggml.model': 'gpt2', 'tokenizer.ggml.tokens': ['a'], 'tokenizer.ggml.bos_token_id': 5 })).toMatch(/bos_token_id: 5 is outside/);
  });
});
