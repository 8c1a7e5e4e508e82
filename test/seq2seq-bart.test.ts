// BART (post-norm, learned positions from row 2, layernorm_embedding, GELU, final_logits_bias,
// forced BOS/EOS) and mBART (pre-norm with final layer norms, scaled embeddings) against the
// PyTorch goldens of tools/reference/make_bart_marian.py, single and batched, greedy and beams;
// loading, defaults and refusals.
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { LanguageModel } from '../ts/generate/model.js';
import { loadModel } from '../ts/models/model.js';
import { loadSeq2Seq } from '../ts/models/seq2seq.js';
import { Tokenizer } from '../ts/tokenizer/index.js';
import { tokenizerFromDirectory } from '../ts/tokenizer/files.js';
import { hf } from './tokenizer/util.js';
import { FIX, G, describeGoldens, lowPrecisionCheck, withConfig } from './helpers/seq2seq-goldens.js';

it('reads golden layout version 1', () => expect(G.header.layout_version).toBe(1));

for (const backend of ['native', 'reference'] as const) {
  describeGoldens('bart-tiny', 'bart', backend);
  describeGoldens('mbart-tiny', 'mbart', backend);
}
lowPrecisionCheck('bart-tiny');
lowPrecisionCheck('mbart-tiny');


describe('BART loading, defaults and refusals', () => {
  it('loadModel detects BART and mBART from config.json', async () => {
    for (const [name, arch] of [['bart-tiny', 'bart'], ['mbart-tiny', 'mbart']] as const) {
      const model = await loadModel(join(FIX, name), { pageRows: 4 });
      try {
        expect(model.kind).toBe('encoder-decoder');
        if (model.kind !== 'encoder-decoder') return;
        expect(model.config.architecture).toBe(arch);
        expect(model.decoderStartTokenId).toBe(2);
      } finally {
        model.dispose();
      }
    }
  });

  it('forces BOS first and EOS at max length, as forced_bos_token_id / forced_eos_token_id say', async () => {
    const model = await loadSeq2Seq(join(FIX, 'bart-tiny'), { contextLength: 32 });
    try {
      expect([...model.forcedTokens(7)!]).toEqual([[0, 0], [6, 2]]);
      const input = G.models['bart-tiny']![0]!.input;
      const r = await model.generate(input, { numBeams: 1, maxTokens: 5, ignoreEos: true, noRepeatNgramSize: 0 });
      expect(r.sequences[0]!.ids[0]).toBe(0);
      expect(r.sequences[0]!.ids.at(-1)).toBe(2);
      // The caller's forcedTokens replace the checkpoint's.
      const own = await model.generate(input, { numBeams: 1, maxTokens: 5, ignoreEos: true, noRepeatNgramSize: 0, forcedTokens: [7] });
      expect(own.sequences[0]!.ids[0]).toBe(7);
    } finally {
      model.dispose();
    }
  });

  it('without generation_config.json, config.json\'s forced_bos/eos_token_id are used', async () => {
    const dir = withConfig('bart-tiny', {});
    rmSync(join(dir, 'generation_config.json'));
    const model = await loadSeq2Seq(dir, { contextLength: 32 });
    const withFile = await loadSeq2Seq(join(FIX, 'bart-tiny'), { contextLength: 32 });
    try {
      expect([...model.forcedTokens(4)!]).toEqual([[0, 0], [3, 2]]);
      const c = G.models['bart-tiny']![0]!;
      const r = await model.generate(c.input, { numBeams: 1, maxTokens: c.greedy.length, ignoreEos: true });
      expect(r.sequences[0]!.ids).toEqual(c.greedy);
      // Both ways give the same beams.
      const o = { numBeams: 4, numReturnSequences: 2, maxTokens: 6, noRepeatNgramSize: 0, earlyStopping: false };
      expect(await model.generate(c.input, o)).toEqual(await withFile.generate(c.input, o));
    } finally {
      model.dispose();
      withFile.dispose();
    }
  });

  it("generation_config.json's defaults are what generate() uses without options", async () => {
    const model = await loadSeq2Seq(join(FIX, 'bart-tiny'), { contextLength: 32 });
    try {
      expect(model.generationDefaults()).toEqual({ numBeams: 4, maxTokens: 11, earlyStopping: true, noRepeatNgramSize: 3, forcedTokens: new Map([[0, 0]]) });
      const input = G.models['bart-tiny']![1]!.input;
      expect(await model.generate(input)).toEqual(await model.generate(input, { numBeams: 4, maxTokens: 11, earlyStopping: true, noRepeatNgramSize: 3 }));
    } finally {
      model.dispose();
    }
  });

  it('the byte-level BPE tokenizer of the directory gives the reference ids (tokenizer.json, vocab.json + merges.txt)', async () => {
    const dir = join(FIX, 'bart-tiny');
    const json = readFileSync(join(dir, 'tokenizer.json'), 'utf8');
    const tok = Tokenizer.fromJSON(json);
    const gpt2 = Tokenizer.fromGPT2(readFileSync(join(dir, 'vocab.json'), 'utf8'), readFileSync(join(dir, 'merges.txt'), 'utf8'));
    const ref = hf.Tokenizer.fromString(json);
    for (const text of ['Hello world, this is a test.', ' The quick brown fox -- 3 dogs!', 'ünïcödé <mask> done']) {
      const want = (await ref.encode(text)).getIds();
      expect(tok.encode(text), text).toEqual(want);
      expect(want[0]).toBe(0);
      expect(want.at(-1)).toBe(2);
      // vocab.json + merges.txt carry no special tokens: <mask> is plain text there.
      if (!text.includes('<mask>')) expect(gpt2.encode(text, { addSpecialTokens: false }), text).toEqual(want.slice(1, -1));
    }
  });

  it('a BART directory with vocab.json and merges.txt but no tokenizer.json tokenizes as with it', () => {
    const dir = withConfig('bart-tiny', {});
    const withJson = tokenizerFromDirectory(dir, 'test');
    rmSync(join(dir, 'tokenizer.json'));
    const files = tokenizerFromDirectory(dir, 'test');
    for (const text of ['Hello world, this is a test.', ' The quick brown fox -- 3 dogs!', 'ünïcödé <mask> done', 'a pair'])
      expect(files.encode(text), text).toEqual(withJson.encode(text));
    expect(files.encode('one', { pair: 'two' })).toEqual(withJson.encode('one', { pair: 'two' }));
    expect(files.decode(files.encode('Hello <mask> world'), { skipSpecialTokens: true })).toBe('Hello world');
  });

  it('refuses config fields it does not implement with a RangeError naming field and value', async () => {
    await expect(loadSeq2Seq(withConfig('bart-tiny', { activation_function: 'quick_gelu' }))).rejects.toThrow(/bart 'activation_function' = "quick_gelu" is not supported/);
    await expect(loadSeq2Seq(withConfig('bart-tiny', { decoder_ffn_dim: 48 }))).rejects.toThrow(/bart 'decoder_ffn_dim' = 48 is not supported/);
    await expect(loadSeq2Seq(withConfig('bart-tiny', { decoder_attention_heads: 2 }))).rejects.toThrow(/'decoder_attention_heads' = 2 is not supported/);
    await expect(loadSeq2Seq(withConfig('bart-tiny', { add_final_layer_norm: true }))).rejects.toThrow(/'add_final_layer_norm' = true is not supported/);
    await expect(loadSeq2Seq(withConfig('bart-tiny', { architectures: ['BartForSequenceClassification'] }))).rejects.toThrow(/'architectures'.*is not supported/);
    await expect(loadSeq2Seq(withConfig('bart-tiny', { is_encoder_decoder: false }))).rejects.toThrow(/'is_encoder_decoder' = false/);
    // A position table shorter than the config says is a shape error naming the tensor.
    await expect(loadSeq2Seq(withConfig('bart-tiny', { max_position_embeddings: 128 }))).rejects.toThrow(/embed_positions\.weight' has shape \[66, 32\], expected \[130, 32\]/);
  });
});

describe('BART through LanguageModel (text in, text out)', () => {
  it('beams and greedy from text equal the model on the tokenizer\'s ids, with forced BOS and EOS', async () => {
    const lm = await LanguageModel.load(join(FIX, 'bart-tiny'));
    const model = await loadSeq2Seq(join(FIX, 'bart-tiny'));
    try {
      const text = 'Hello world, this is a test.';
      const ids = lm.tokenizer.encode(text);
      expect([ids[0], ids.at(-1)]).toEqual([0, 2]);
      const beams = { numBeams: 4, numReturnSequences: 2, maxTokens: 7, noRepeatNgramSize: 0, earlyStopping: false };
      const r = await lm.generate(text, beams);
      const want = await model.generate(ids, beams);
      expect(r.sequences!.map((s) => s.ids)).toEqual(want.sequences.map((s) => s.ids));
      const g = await lm.generate(text, { numBeams: 1, temperature: 0, maxTokens: 5, ignoreEos: true, noRepeatNgramSize: 0 });
      expect(g.ids[0]).toBe(0);
      expect(g.ids.at(-1)).toBe(2);
      expect(g.ids).toEqual((await model.generate(ids, { numBeams: 1, maxTokens: 5, ignoreEos: true, noRepeatNgramSize: 0 })).sequences[0]!.ids);
    } finally {
      lm.dispose();
      model.dispose();
    }
  });
});
