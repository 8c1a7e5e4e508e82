// Marian (opus-mt: post-norm, sinusoidal positions computed at load, scale_embedding, swish,
// final_logits_bias, pad as the decoder start) against the PyTorch goldens of
// tools/reference/make_bart_marian.py, single and batched, greedy and beams; its tokenizer from
// source.spm / target.spm / vocab.json; refusals.
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { LanguageModel } from '../ts/generate/model.js';
import { marianPositions } from '../ts/models/families/bart.js';
import { loadModel } from '../ts/models/model.js';
import { loadSeq2Seq } from '../ts/models/seq2seq.js';
import { tokenizerFromDirectory } from '../ts/tokenizer/files.js';
import { FIX, G, describeGoldens, lowPrecisionCheck, withConfig } from './helpers/seq2seq-goldens.js';

for (const backend of ['native', 'reference'] as const) describeGoldens('marian-tiny', 'marian', backend);
lowPrecisionCheck('marian-tiny');

describe('Marian loading, tokenizer and refusals', () => {
  it('computes the sinusoidal table HF initializes (sin in the first half of the columns, cos in the second)', () => {
    const C = 8;
    const t = marianPositions(3, C);
    expect(Array.from(t.subarray(0, C))).toEqual([0, 0, 0, 0, 1, 1, 1, 1]);
    for (let j = 0; j < C / 2; j++) {
      const angle = 2 / 10000 ** ((2 * j) / C);
      expect(t[2 * C + j]).toBeCloseTo(Math.sin(angle), 6);
      expect(t[2 * C + C / 2 + j]).toBeCloseTo(Math.cos(angle), 6);
    }
  });

  it('loadModel detects Marian; its decoder starts at <pad> and forces EOS at max length', async () => {
    const model = await loadModel(join(FIX, 'marian-tiny'), { pageRows: 4 });
    try {
      expect(model.kind).toBe('encoder-decoder');
      if (model.kind !== 'encoder-decoder') return;
      const tok = tokenizerFromDirectory(join(FIX, 'marian-tiny'), 'test');
      expect(model.config.architecture).toBe('marian');
      expect(model.decoderStartTokenId).toBe(tok.tokenToId('<pad>'));
      expect([...model.forcedTokens(5)!]).toEqual([[4, 0]]);
    } finally {
      model.dispose();
    }
  });

  it('the directory\'s tokenizer (source.spm, target.spm, vocab.json) gives MarianTokenizer\'s ids', () => {
    const tok = tokenizerFromDirectory(join(FIX, 'marian-tiny'), 'test');
    for (const c of G.marianTokenizer) expect(tok.encode(c.text), c.text).toEqual(c.ids);
    // The first golden input is the tokenizer's ids of the first text.
    expect(G.models['marian-tiny']![0]!.input).toEqual(G.marianTokenizer[0]!.ids);
  });

  it('refuses config fields it does not implement with a RangeError naming field and value', async () => {
    // Separate vocabularies read each stack's own table, which a shared checkpoint lacks (test/seq2seq-marian-separate.test.ts runs them).
    await expect(loadSeq2Seq(withConfig('marian-tiny', { share_encoder_decoder_embeddings: false }))).rejects.toThrow(/model\.encoder\.embed_tokens\.weight/);
    await expect(loadSeq2Seq(withConfig('marian-tiny', { decoder_vocab_size: 100 }))).rejects.toThrow(/'decoder_vocab_size' = 100 is not supported \(with share_encoder_decoder_embeddings true/);
    await expect(loadSeq2Seq(withConfig('marian-tiny', { static_position_embeddings: false }))).rejects.toThrow(/'static_position_embeddings' = false/);
    await expect(loadSeq2Seq(withConfig('marian-tiny', { normalize_embedding: true }))).rejects.toThrow(/'normalize_embedding' = true/);
    await expect(loadSeq2Seq(withConfig('marian-tiny', { add_bias_logits: true }))).rejects.toThrow(/'add_bias_logits' = true/);
    await expect(loadSeq2Seq(withConfig('marian-tiny', { d_model: 33, encoder_attention_heads: 3, decoder_attention_heads: 3 }))).rejects.toThrow(RangeError);
  });
});


describe('Marian through LanguageModel (text in, text out)', () => {
  it('loads without tokenizer.json; greedy and beams from text equal the model on the tokenizer\'s ids, forced EOS included', async () => {
    const lm = await LanguageModel.load(join(FIX, 'marian-tiny'));
    const model = await loadSeq2Seq(join(FIX, 'marian-tiny'));
    try {
      expect(lm.kind).toBe('encoder-decoder');
      const text = G.marianTokenizer[0]!.text;
      const ids = lm.tokenizer.encode(text);
      expect(ids).toEqual(G.marianTokenizer[0]!.ids);
      const greedy = { numBeams: 1, temperature: 0, maxTokens: 6, ignoreEos: true, noRepeatNgramSize: 0 };
      const r = await lm.generate(text, greedy);
      const want = await model.generate(ids, { numBeams: 1, maxTokens: 6, ignoreEos: true, noRepeatNgramSize: 0 });
      expect(r.ids).toEqual(want.sequences[0]!.ids);
      // forced_eos_token_id (0, </s>) at the last position, as HF's max_length rule puts it.
      expect(r.ids.at(-1)).toBe(0);
      // The text leaves that special token out (as HF's translation pipeline decodes).
      expect(r.text).toBe(lm.tokenizer.decode(r.ids, { skipSpecialTokens: true }));
      expect(lm.tokenizer.decode(r.ids)).toBe(`${r.text}</s>`);
      const beams = { numBeams: 4, numReturnSequences: 2, maxTokens: 6, noRepeatNgramSize: 0 };
      const b = await lm.generate(text, beams);
      expect(b.sequences!.map((s) => s.ids)).toEqual((await model.generate(ids, beams)).sequences.map((s) => s.ids));
    } finally {
      lm.dispose();
      model.dispose();
    }
  });
});
