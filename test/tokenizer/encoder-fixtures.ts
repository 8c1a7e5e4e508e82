// tokenizer.json variants for encoder-only models (BERT uncased/cased, RoBERTa, XLM-R), derived
// from the committed fixtures by changing the fields those models differ in. Not a test itself.
import { readFixture } from './util.js';

type Json = Record<string, unknown>;

function edit(file: string, f: (j: Json) => void): string {
  const j = JSON.parse(readFixture(file)) as Json;
  f(j);
  return JSON.stringify(j);
}

function bert(normalizer: Json, model: Json = {}): string {
  return edit('wordpiece-bert.json', (j) => {
    j.normalizer = { type: 'BertNormalizer', ...normalizer };
    const m = j.model as { vocab: Record<string, number> };
    const prefix = model.continuing_subword_prefix;
    // A different continuation prefix is only meaningful with a vocabulary spelled in it.
    if (typeof prefix === 'string') m.vocab = Object.fromEntries(Object.entries(m.vocab).map(([t, id]) => [t.startsWith('##') ? prefix + t.slice(2) : t, id]));
    Object.assign(m, model);
  });
}

/** RoBERTa: byte-level BPE with a prefix space, <s> A </s></s> B </s>, offsets trimmed. */
function roberta(): string {
  return edit('bpe-bytelevel-digits.json', (j) => {
    const vocab = (j.model as { vocab: Record<string, number> }).vocab;
    let next = Math.max(...Object.values(vocab)) + 1;
    const specials = ['<s>', '<pad>', '</s>', '<unk>', '<mask>'].map((content) => {
      vocab[content] = next;
      return { id: next++, content, single_word: false, lstrip: content === '<mask>', rstrip: false, normalized: false, special: true };
    });
    j.added_tokens = [...(j.added_tokens as Json[]), ...specials];
    j.normalizer = null;
    j.pre_tokenizer = { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true };
    j.post_processor = { type: 'RobertaProcessing', sep: ['</s>', vocab['</s>']], cls: ['<s>', vocab['<s>']], trim_offsets: true, add_prefix_space: true };
  });
}

function xlmr(metaspace: Json = {}, byteFallback = false): string {
  return edit('unigram-xlmr-precompiled.json', (j) => {
    if (byteFallback) {
      // sentencepiece's byte pieces, scored below every other piece, as spm_train --byte_fallback writes them.
      const m = j.model as { vocab: [string, number][]; byte_fallback: boolean };
      const min = Math.min(...m.vocab.map((v) => v[1]));
      for (let b = 0; b < 256; b++) m.vocab.push([`<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`, min - 1]);
      m.byte_fallback = true;
    }
    if (Object.keys(metaspace).length === 0) return;
    j.pre_tokenizer = { ...(j.pre_tokenizer as Json), ...metaspace };
    j.decoder = { ...(j.decoder as Json), ...metaspace };
  });
}

/**
 * [name, tokenizer.json text, offsets match on every text] for each variant the encoder parity
 * tests run. Offsets match everywhere except where NFD/NFKC composition or BERT's accent
 * stripping merges characters (see the test).
 */
export const ENCODER_TOKENIZERS: [string, () => string, boolean][] = [
  ['BERT uncased', () => bert({ clean_text: true, handle_chinese_chars: true, strip_accents: null, lowercase: true }), false],
  ['BERT cased', () => bert({ clean_text: true, handle_chinese_chars: true, strip_accents: null, lowercase: false }), false],
  ['BERT cased, accents stripped', () => bert({ clean_text: true, handle_chinese_chars: true, strip_accents: true, lowercase: false }), false],
  ['BERT uncased, accents kept, no CJK split, no cleaning', () => bert({ clean_text: false, handle_chinese_chars: false, strip_accents: false, lowercase: true }), false],
  ['BERT, 6-character words, "@@" prefix', () => bert({ clean_text: true, handle_chinese_chars: true, strip_accents: null, lowercase: true }, { max_input_chars_per_word: 6, continuing_subword_prefix: '@@' }), false],
  ['RoBERTa byte-level BPE', roberta, false],
  ['XLM-R Unigram + Precompiled', () => xlmr(), true],
  ['XLM-R, prepend_scheme first', () => xlmr({ prepend_scheme: 'first' }), true],
  ['XLM-R, prepend_scheme never', () => xlmr({ prepend_scheme: 'never' }), true],
  ['XLM-R, no split', () => xlmr({ split: false }), true],
  ['XLM-R + byte fallback', () => xlmr({}, true), true],
];
