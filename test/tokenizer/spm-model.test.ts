// SentencePiece .model files read directly: ids, pieces and decoded text against sentencepiece
// itself (goldens from tools/make-spm-tokenizer.py) for Unigram and BPE models with different
// normalization rules, and clear errors for files that are not models.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { Tokenizer, TokenizerFormatError } from '../../ts/tokenizer/index.js';
import { parseSentencePieceModel } from '../../ts/tokenizer/spm-proto.js';
import { sentencePieceParts } from '../../ts/tokenizer/spm.js';
import { fixtureDir } from './util.js';

interface Case { name: string; text: string; ids: number[]; pieces: string[]; decoded: string }
interface ModelGoldens { train_options: Record<string, unknown>; pieces: number; cases: Case[]; decode: { ids: number[]; text: string }[] }
interface Goldens { header: { made_by: string; version: number }; models: Record<string, ModelGoldens> }

const goldens = JSON.parse(fs.readFileSync(path.join(fixtureDir, 'spm-model-goldens.json'), 'utf8')) as Goldens;
const modelBytes = (name: string): Uint8Array => new Uint8Array(fs.readFileSync(path.join(fixtureDir, `${name}.model`)));
const NAMES = Object.keys(goldens.models);

describe('SentencePiece .model files', () => {
  it('has goldens for Unigram and BPE models', () => {
    expect(goldens.header.made_by).toBe('tools/make-spm-tokenizer.py');
    expect(NAMES.map((n) => goldens.models[n]!.train_options.model_type).sort()).toEqual(['bpe', 'bpe', 'unigram', 'unigram']);
  });

  for (const name of NAMES) {
    describe(name, () => {
      const g = goldens.models[name]!;
      const tok = Tokenizer.fromSentencePiece(modelBytes(name));

      it('has every piece', () => {
        expect(tok.vocabSize).toBe(g.pieces);
        expect(tok.model.kind).toBe(g.train_options.model_type === 'bpe' ? 'BPE' : 'Unigram');
      });

      it('gives sentencepiece\'s ids and pieces on the corpus', () => {
        expect(g.cases.length).toBeGreaterThan(40);
        for (const c of g.cases) {
          const ids = tok.encode(c.text);
          expect(ids, c.name).toEqual(c.ids);
          // sentencepiece names an unknown token by the text it stands for, not by '<unk>'.
          const unk = tok.tokenToId('<unk>');
          expect(ids.map((id, i) => (id === unk ? c.pieces[i] : tok.idToToken(id))), c.name).toEqual(c.pieces);
        }
      });

      it('decodes as sentencepiece does', () => {
        for (const c of g.cases) expect(tok.decode(c.ids), c.name).toBe(c.decoded);
        for (const d of g.decode) expect(tok.decode(d.ids), JSON.stringify(d.ids)).toBe(d.text);
      });

      it('gives offsets that cover each token\'s text', () => {
        for (const c of g.cases.slice(0, 12)) {
          const e = tok.encodeWithOffsets(c.text);
          expect(e.ids, c.name).toEqual(c.ids);
          for (const [a, b] of e.offsets) { expect(a).toBeGreaterThanOrEqual(0); expect(b).toBeGreaterThanOrEqual(a); expect(b).toBeLessThanOrEqual(c.text.length); }
        }
      });
    });
  }

  it('gives the same ids when a piece may cross a space, so that the text is segmented whole', () => {
    for (const name of NAMES) {
      const m = parseSentencePieceModel(modelBytes(name));
      // A piece the corpus never forms ('qq zz'), spanning a '▁': words can no longer go one by one.
      m.pieces.push({ piece: '\u2581qq\u2581zz', score: -1e6, type: 1 });
      const whole = new Tokenizer(sentencePieceParts(m, false, name));
      for (const c of goldens.models[name]!.cases.slice(0, 60)) expect(whole.encode(c.text), `${name} ${c.name}`).toEqual(c.ids);
    }
  });

  it('matches control and unknown pieces in the text only when asked, as Hugging Face tokenizers do', () => {
    const bytes = modelBytes('spm-unigram-nfkc');
    const plain = Tokenizer.fromSentencePiece(bytes);
    const hfLike = Tokenizer.fromSentencePiece(bytes, { splitSpecialTokens: true });
    const text = 'one </s> two';
    const eos = plain.tokenToId('</s>')!;
    expect(plain.encode(text)).not.toContain(eos);
    const ids = hfLike.encode(text);
    expect(ids).toContain(eos);
    expect(hfLike.isSpecial(eos)).toBe(true);
    expect(hfLike.decode(ids, { skipSpecialTokens: true })).toBe('one two');
    // The segments around the special token are encoded as sentencepiece encodes them alone.
    expect(ids).toEqual([...plain.encode('one '), eos, ...plain.encode(' two')]);
  });

  it('streams the decoded text', () => {
    const tok = Tokenizer.fromSentencePiece(modelBytes('spm-unigram-bytes'));
    const c = goldens.models['spm-unigram-bytes']!.cases.find((x) => x.name === 'scripts.txt')!;
    const s = tok.createStreamDecoder();
    let out = '';
    for (const id of c.ids) out += s.push(id);
    out += s.flush();
    expect(out).toBe(c.decoded);
  });

  describe('malformed files', () => {
    const good = modelBytes('spm-bpe-identity');

    it('refuses bytes that are not a model, naming the file', () => {
      const opts = { path: 'spiece.model' };
      expect(() => Tokenizer.fromSentencePiece(new Uint8Array(0), opts)).toThrow(/spiece\.model: has no pieces/);
      expect(() => Tokenizer.fromSentencePiece(new TextEncoder().encode('{"model": "json"}'), opts)).toThrow(TokenizerFormatError);
      expect(() => Tokenizer.fromSentencePiece(new Uint8Array([0x0a, 0xff, 0xff, 0xff, 0x0f, 1, 2]), opts)).toThrow(/spiece\.model: field 1 at byte 0 claims \d+ bytes/);
      expect(() => Tokenizer.fromSentencePiece(new Uint8Array([0x0f, 0]), opts)).toThrow(/wire type 7/);
      expect(() => Tokenizer.fromSentencePiece(new Uint8Array([0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]), opts)).toThrow(/varint/);
      expect(() => Tokenizer.fromSentencePiece('spiece.model' as unknown as Uint8Array)).toThrow(TypeError);
    });

    it('refuses a truncated file', () => {
      for (const n of [1, 7, 100, good.length - 3]) {
        expect(() => Tokenizer.fromSentencePiece(good.subarray(0, n)), `first ${n} bytes`).toThrow(TokenizerFormatError);
      }
    });

    it('refuses pieces that break the schema', () => {
      // pieces { piece: "" }: an empty piece.
      expect(() => parseSentencePieceModel(Uint8Array.from([0x0a, 0x02, 0x0a, 0x00]))).toThrow(/pieces\[0\]\.piece: missing or empty/);
      // pieces { piece: "a" type: 9 }
      expect(() => parseSentencePieceModel(Uint8Array.from([0x0a, 0x05, 0x0a, 0x01, 0x61, 0x18, 0x09]))).toThrow(/pieces\[0\]\.type: 9 is not a piece type/);
      // pieces { piece: "\xff" }: not UTF-8.
      expect(() => parseSentencePieceModel(Uint8Array.from([0x0a, 0x03, 0x0a, 0x01, 0xff]))).toThrow(/pieces\[0\]\.piece: is not valid UTF-8/);
      // pieces { piece: "a" } only: no unknown piece.
      expect(() => Tokenizer.fromSentencePiece(Uint8Array.from([0x0a, 0x03, 0x0a, 0x01, 0x61]))).toThrow(/no piece has type UNKNOWN/);
    });

    it('refuses model types it does not implement', () => {
      // The same pieces with trainer_spec { model_type: WORD } appended (a later field wins).
      const word = Uint8Array.from([...good, 0x12, 0x02, 0x18, 0x03]);
      expect(() => Tokenizer.fromSentencePiece(word)).toThrow(/model_type: WORD models are not supported/);
    });
  });
});
