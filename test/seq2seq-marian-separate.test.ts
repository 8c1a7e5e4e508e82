// Marian with separate source and target vocabularies (share_encoder_decoder_embeddings false,
// decoder_vocab_size, vocab.json + target_vocab.json, separate_vocabs) against the PyTorch goldens of
// tools/reference/make_marian_separate.py: the model's own decoder table and head, the tokenizer
// encoding with the source side and decoding with the target side, and text through LanguageModel.
import { copyFileSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { LanguageModel } from '../ts/generate/model.js';
import { loadSeq2Seq } from '../ts/models/seq2seq.js';
import { tokenizerFromDirectory } from '../ts/tokenizer/files.js';
import { FIX, describeGoldens, lowPrecisionCheck, withConfig, type Goldens } from './helpers/seq2seq-goldens.js';

const NAME = 'marian-sep-tiny';
const SEP = JSON.parse(readFileSync(join(FIX, 'marian-sep-goldens.json'), 'utf8')) as Goldens;

for (const backend of ['native', 'reference'] as const) describeGoldens(NAME, 'marian', backend, SEP);
lowPrecisionCheck(NAME, SEP);

/** A copy of the checkpoint with tokenizer_config.json fields replaced. */
function withTokenizerConfig(patch: Record<string, unknown>): string {
  const dir = mkdtempSync(join(tmpdir(), `${NAME}-tok-`));
  for (const f of readdirSync(join(FIX, NAME))) copyFileSync(join(FIX, NAME, f), join(dir, f));
  const cfg = JSON.parse(readFileSync(join(FIX, NAME, 'tokenizer_config.json'), 'utf8')) as Record<string, unknown>;
  writeFileSync(join(dir, 'tokenizer_config.json'), JSON.stringify({ ...cfg, ...patch }));
  return dir;
}

describe('Marian with separate vocabularies', () => {
  it('reads vocab_size for the encoder and decoder_vocab_size for the decoder and its logits', async () => {
    const model = await loadSeq2Seq(join(FIX, NAME), { contextLength: 32 });
    try {
      const cfg = JSON.parse(readFileSync(join(FIX, NAME, 'config.json'), 'utf8')) as { vocab_size: number; decoder_vocab_size: number };
      expect(cfg.decoder_vocab_size).toBeGreaterThan(cfg.vocab_size);
      expect(model.config.vocabSize).toBe(cfg.vocab_size);
      expect(model.decoderVocabSize).toBe(cfg.decoder_vocab_size);
      // An encoder id past the source vocabulary is refused; a decoder id past it but inside the target one runs.
      await expect(model.encode([cfg.vocab_size])).rejects.toThrow(new RegExp(`outside \\[0, ${cfg.vocab_size}\\)`));
      const enc = await model.encode([5, 6, 0]);
      const cache = model.newCache();
      const logits = await model.forward([model.decoderStartTokenId, cfg.vocab_size + 3], { encoder: enc, cache });
      expect(logits.length).toBe(cfg.decoder_vocab_size);
      await expect(model.forward([cfg.decoder_vocab_size], { cache })).rejects.toThrow(new RegExp(`outside \\[0, ${cfg.decoder_vocab_size}\\)`));
      cache.dispose();
      enc.dispose();
    } finally {
      model.dispose();
    }
  });

  it('the tokenizer encodes with source.spm + vocab.json and decodes with target_vocab.json + target.spm, as sentencepiece does', () => {
    const tok = tokenizerFromDirectory(join(FIX, NAME), 'test');
    for (const c of SEP.marianTokenizer) expect(tok.encode(c.text), c.text).toEqual(c.ids);
    for (const c of SEP.marianDecode) {
      expect(tok.decode(c.ids), JSON.stringify(c.ids)).toBe(c.text);
      expect(tok.decode(c.ids, { skipSpecialTokens: true }), JSON.stringify(c.ids)).toBe(c.skipSpecial);
    }
    const target = JSON.parse(readFileSync(join(FIX, NAME, 'target_vocab.json'), 'utf8')) as Record<string, number>;
    expect(tok.vocabSize).toBe(Object.keys(target).length);
    // The target's <pad> is its own id (the last), special when decoding; the source's <pad> id is an ordinary target piece.
    const source = JSON.parse(readFileSync(join(FIX, NAME, 'vocab.json'), 'utf8')) as Record<string, number>;
    expect(tok.isSpecial(target['<pad>']!)).toBe(true);
    expect(tok.isSpecial(source['<pad>']!)).toBe(false);
    expect(tok.decode([target['<pad>']!], { skipSpecialTokens: true })).toBe('');
    expect(() => tok.decode([Object.keys(target).length])).toThrow(/target vocabulary size/);
  });

  it('the golden input is the tokenizer\'s ids of the first text', () => {
    expect(SEP.models[NAME]![0]!.input).toEqual(SEP.marianTokenizer[0]!.ids);
  });

  it('through LanguageModel: text in, the model\'s ids out, decoded with the target vocabulary', async () => {
    const lm = await LanguageModel.load(join(FIX, NAME), { contextLength: 64 });
    const model = await loadSeq2Seq(join(FIX, NAME), { contextLength: 64 });
    try {
      const text = SEP.marianTokenizer[0]!.text;
      const ids = lm.tokenizer.encode(text);
      const greedy = { numBeams: 1, temperature: 0, maxTokens: 8, noRepeatNgramSize: 0 };
      const r = await lm.generate(text, greedy);
      const want = await model.generate(ids, { numBeams: 1, maxTokens: 8, noRepeatNgramSize: 0 });
      expect(r.ids).toEqual(want.sequences[0]!.ids);
      expect(r.text).toBe(lm.tokenizer.decode(r.ids, { skipSpecialTokens: true }));
      // Ids past the source vocabulary are generated (the target's is larger) and have text.
      const beams = { numBeams: 4, numReturnSequences: 2, maxTokens: 8, noRepeatNgramSize: 0 };
      const b = await lm.generate(text, beams);
      expect(b.sequences!.map((s) => s.ids)).toEqual((await model.generate(ids, beams)).sequences.map((s) => s.ids));
    } finally {
      lm.dispose();
      model.dispose();
    }
  });

  it('refuses a checkpoint whose tokenizer and model disagree on separate vocabularies, and a missing target_vocab.json', async () => {
    await expect(LanguageModel.load(withTokenizerConfig({ separate_vocabs: false }))).rejects.toThrow(/separate_vocabs/);
    // Read as shared, the file's decoder-sized tensors are named.
    const shared = withConfig(NAME, { share_encoder_decoder_embeddings: true, decoder_vocab_size: null });
    await expect(LanguageModel.load(shared)).rejects.toThrow(/final_logits_bias' has shape \[1, 420\], expected \[1, 221\]/);
    const noTarget = withTokenizerConfig({});
    rmSync(join(noTarget, 'target_vocab.json'));
    expect(() => tokenizerFromDirectory(noTarget, 'test')).toThrow(/separate_vocabs but has no target_vocab.json/);
    // A decoder table that is not decoder_vocab_size rows is named.
    await expect(loadSeq2Seq(withConfig(NAME, { decoder_vocab_size: 99 }))).rejects.toThrow(/decoder\.embed_tokens\.weight/);
  });
});
