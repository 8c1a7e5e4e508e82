// Encoding a long text through tokenizer.json tokenizers in bounded memory (issue #23, item 9):
// each tokenizer in a child process whose V8 heap is capped well below what holding every piece
// of the text took (0.15 GB per MB of text), so a stage that collects the whole text's pieces
// again dies there. And the ids-only fast paths (streamed Metaspace, post-processor layouts) give
// the ids the offset path gives on the texts that stress them.
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { eachGrapheme } from '../../ts/tokenizer/precompiled.js';
import { Tokenizer } from '../../ts/tokenizer/index.js';
import { corpusDir, fixtureDir, readFixture } from './util.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
// Text (two bytes a unit: 8 MB) and ids (about 1-3 M) fit many times over; 4 MB of pieces held
// at once took 480-740 MB. The Precompiled normalizer is slower (a grapheme segmenter): 2 MB.
const HEAP_MB = 128;
const CASES: [string, number][] = [['wordpiece-bert.json', 4], ['bpe-bytelevel-digits.json', 4], ['unigram-metaspace.json', 4], ['unigram-xlmr-precompiled.json', 2]];

const CHILD = `
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
const { Tokenizer } = await import(process.env.TOKENIZER_MODULE);
const [fixture, corpus, mb] = process.argv.slice(1);
const unit = readdirSync(corpus).sort().map((f) => readFileSync(path.join(corpus, f), 'utf8')).join('\\n');
const n = Math.round(Number(mb) * 1e6);
const text = unit.repeat(Math.ceil(n / unit.length)).slice(0, n);
const ids = Tokenizer.fromJSON(readFileSync(fixture, 'utf8')).encode(text);
console.log(JSON.stringify({ ids: ids.length, first: ids.slice(0, 8) }));
`;

describe(`a long text encodes under a ${HEAP_MB} MB heap`, () => {
  it.each(CASES)('%s, %d MB', (fixture, MB) => {
    const r = spawnSync(process.execPath, [`--max-old-space-size=${HEAP_MB}`, '--input-type=module', '-e', CHILD, path.join(fixtureDir, fixture), corpusDir, String(MB)], {
      encoding: 'utf8',
      timeout: 240_000,
      env: { ...process.env, TOKENIZER_MODULE: path.join(root, 'dist/tokenizer/index.js') },
    });
    expect(r.status, r.stderr.slice(-2000)).toBe(0);
    const out = JSON.parse(r.stdout) as { ids: number; first: number[] };
    expect(out.ids).toBeGreaterThan(MB * 1e5);
    // The child's ids start as this process's ids of the same opening.
    const tok = Tokenizer.fromJSON(readFixture(fixture));
    const head = tok.encode(readFixture('../tokenizer-corpus/code.txt'));
    expect(out.first).toEqual(head.slice(0, 8));
  }, 300_000);
});

describe('ids-only paths give the offset path ids', () => {
  const texts = ['', ' ', '▁', 'a', ' a', '▁a', 'ab▁▁cd', 'ab  cd ', '▁ ▁x', 'x▁', '  lead and trail  ', 'tab\tnew\nline', 'no-space'];
  const metaspace = (o: Record<string, unknown>) => {
    const j = JSON.parse(readFixture('unigram-metaspace.json')) as Record<string, unknown>;
    j.pre_tokenizer = { type: 'Metaspace', replacement: '▁', ...o };
    return Tokenizer.fromJSON(j);
  };
  it.each([
    ['always, split', { prepend_scheme: 'always', split: true }],
    ['first, split', { prepend_scheme: 'first', split: true }],
    ['never, split', { prepend_scheme: 'never', split: true }],
    ['always, no split', { prepend_scheme: 'always', split: false }],
  ])('Metaspace %s', (_name, o) => {
    const tok = metaspace(o);
    for (const t of texts) {
      for (const addSpecialTokens of [true, false]) expect(tok.encode(t, { addSpecialTokens }), JSON.stringify(t)).toEqual(tok.encodeWithOffsets(t, { addSpecialTokens }).ids);
      // After an added token the segment is not `first` any more.
      expect(tok.encode(`<s>${t}`), JSON.stringify(t)).toEqual(tok.encodeWithOffsets(`<s>${t}`).ids);
    }
  });

  it.each(['wordpiece-bert.json', 'unigram-metaspace.json', 'bpe-bytelevel-digits.json'])('%s: single texts and pairs, with and without special tokens', (fixture) => {
    const tok = Tokenizer.fromJSON(readFixture(fixture));
    for (const [a, b] of [['Hello world', 'a second one'], ['', 'only the second'], ['only the first', ''], ['', '']]) {
      for (const addSpecialTokens of [true, false]) {
        expect(tok.encode(a!, { addSpecialTokens })).toEqual(tok.encodeWithOffsets(a!, { addSpecialTokens }).ids);
        expect(tok.encode(a!, { pair: b!, addSpecialTokens })).toEqual(tok.encodeWithOffsets(a!, { pair: b!, addSpecialTokens }).ids);
      }
    }
  });
});

describe('eachGrapheme', () => {
  it('gives the clusters one segmenter call gives, across its window edges', () => {
    const seg = new Intl.Segmenter(undefined, { granularity: 'grapheme' });
    // Clusters that must not be cut: CR LF, marks, ZWJ emoji, flags, Hangul jamo, and runs
    // without ASCII (CJK, Devanagari) longer than a window.
    const tricky = ['\r\n', 'e\u0301\u0302', '👩‍👩‍👧', '🇫🇷🇩🇪', '\u1100\u1161\u11a8', 'क्षि', 'a\u200d', ' \u0301'];
    for (const pad of [1022, 1023, 1025]) {
      const text = tricky.map((c) => 'x'.repeat(pad) + c).join('') + '字'.repeat(1500) + 'क्ष'.repeat(400) + 'end';
      const got: [string, number][] = [];
      eachGrapheme(text, (g, i) => got.push([g, i]));
      expect(got, `pad ${pad}`).toEqual([...seg.segment(text)].map((s) => [s.segment, s.index]));
    }
  });
});
