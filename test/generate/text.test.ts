// Streaming text (ts/generate/text.ts) against the tokenizers' own decode: the streamed deltas
// add up to decode(ids) for byte-level BPE (characters split across tokens), byte-fallback BPE,
// Unigram with Metaspace (leading-space rules) and WordPiece ('##' pieces); and each step
// decodes a short window of ids, not all of them again.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Tokenizer } from '../../ts/tokenizer/index.js';
import { GeneratedText } from '../../ts/generate/text.js';
import { gpt2Tokenizer } from './gpt2-vocab.js';

const FIX = join(import.meta.dirname, '..', 'fixtures', 'tokenizers');
const fromFixture = (name: string) => Tokenizer.fromJSON(readFileSync(join(FIX, name), 'utf8'));
const TEXT = 'Héllo wörld — naïve café, 𝄞 music 🎵🎶 and 漢字 too.\nNew line: "quoted" ##hash x';

/** Streams `ids` one at a time; returns the concatenated deltas, the result, and decode()'s id count. */
function stream(tok: Tokenizer, ids: readonly number[], stops: string[] = []) {
  let decoded = 0;
  const counting = { decode: (x: readonly number[]) => ((decoded += x.length), tok.decode(x)) };
  const text = new GeneratedText(counting, stops);
  let streamed = '';
  let stopped: string | undefined;
  for (const id of ids) {
    const step = text.push(id);
    streamed += step.delta;
    if (step.stopped !== undefined) {
      stopped = step.stopped;
      break;
    }
  }
  if (stopped === undefined) streamed += text.flush();
  return { streamed, output: stopped ?? text.output, decoded };
}

describe('streaming text', () => {
  const cases: Array<[string, () => Tokenizer]> = [
    ['byte-level BPE (GPT-2)', gpt2Tokenizer],
    ['byte-fallback BPE', () => fromFixture('bpe-bytefallback.json')],
    ['Unigram with Metaspace', () => fromFixture('unigram-metaspace.json')],
    ['WordPiece', () => fromFixture('wordpiece-bert.json')],
  ];
  for (const [name, make] of cases)
    it(`adds up to decode(ids): ${name}`, () => {
      const tok = make();
      const ids = tok.encode(TEXT);
      const { streamed, output } = stream(tok, ids);
      expect(streamed).toBe(tok.decode(ids));
      expect(output).toBe(tok.decode(ids));
    });

  it('decodes a window per step: the ids decoded grow linearly with the tokens, not quadratically', () => {
    const tok = gpt2Tokenizer();
    const ids = tok.encode(TEXT.repeat(20));
    const { streamed, decoded } = stream(tok, ids);
    expect(streamed).toBe(tok.decode(ids));
    // Two short windows a step (and one full decode at the end); all-again would be ~n^2 / 2.
    expect(decoded).toBeLessThanOrEqual(8 * ids.length + ids.length);
    expect(ids.length * ids.length / 2).toBeGreaterThan(20 * decoded);
  });

  it('holds back a character split across tokens until it is complete', () => {
    const tok = gpt2Tokenizer();
    const ids = tok.encode('🎵');
    expect(ids.length).toBeGreaterThan(1);
    const text = new GeneratedText(tok, []);
    const deltas = ids.map((id) => text.push(id).delta);
    expect(deltas.slice(0, -1).join('')).toBe('');
    expect(deltas.at(-1)).toBe('🎵');
  });

  it('finds stop strings across token boundaries in the window-decoded text', () => {
    const tok = gpt2Tokenizer();
    const ids = tok.encode('one two three STOP four');
    const { streamed, output } = stream(tok, ids, [' STOP']);
    expect(output).toBe('one two three');
    expect(streamed).toBe('one two three');
  });
});
